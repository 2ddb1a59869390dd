from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from customerio_gcp.local.stack import LocalStack
from tests.conftest import LOG_DIR, PROJECT

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="package")
def stack(pubsub_emulator: str, firestore_emulator: str) -> Iterator[LocalStack]:
    """The pipeline under load: Customer.io's slow answers (1.5 s) outlast a 1 s client timeout."""
    local = LocalStack(
        functions_dir=REPO / "functions",
        project=PROJECT,
        log_dir=LOG_DIR,
        suffix="-soak-" + uuid.uuid4().hex[:6],
        pubsub_host=pubsub_emulator,
        firestore_host=firestore_emulator,
        with_webhook=False,
        pull_delivery=True,  # the emulator's push loop stalls under sustained failures (local.pusher)
        function_env={"HTTP_TIMEOUT_S": "1", "HTTP_CONNECT_TIMEOUT_S": "1"},
    )
    with local:
        yield local
