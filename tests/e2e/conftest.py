"""The pipeline as it runs in `make run`: emulators, sandbox, three function processes, topology.

`pipeline` runs the functions as deployed (identify and track coalesce); `uncoalesced` is the
same without webhook-ingest and with TRACK_COALESCE=false, for what is about one request per
message."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from customerio_gcp_local.stack import LocalStack, wait_until

from customerio_gcp.messages.models import TopicKind
from tests.conftest import local_stack


class Pipeline:
    """A started LocalStack plus a collector of dead letters (pulled and acked once, kept here)."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.control = stack.control
        self.publisher = stack.publisher()
        self.dead_letters: dict[TopicKind, list[Any]] = {"identify": [], "track": [], "transactional": []}

    def collect(self) -> None:
        for kind in self.dead_letters:
            self.dead_letters[kind].extend(self.stack.pull_dead_letters(kind, ack=True))

    def wait_for_dead_letters(self, kind: TopicKind, predicate: Any, count: int, timeout: float = 30) -> list[Any]:
        def matching() -> list[Any]:
            self.collect()
            return [m for m in self.dead_letters[kind] if predicate(m)]

        wait_until(lambda: len(matching()) >= count, timeout=timeout, interval=0.5)
        return matching()


@pytest.fixture(scope="module")
def pipeline(pubsub_emulator: str, firestore_emulator: str, bigquery_emulator: str) -> Iterator[Pipeline]:
    with local_stack("", pubsub_emulator, firestore_emulator, bigquery_endpoint=bigquery_emulator) as stack:
        yield Pipeline(stack)


@pytest.fixture(scope="module")
def uncoalesced(pubsub_emulator: str, firestore_emulator: str) -> Iterator[Pipeline]:
    env = {"TRACK_COALESCE": "false"}
    with local_stack("v1", pubsub_emulator, firestore_emulator, with_webhook=False, function_env=env) as stack:
        yield Pipeline(stack)
