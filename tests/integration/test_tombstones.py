"""A deleted person stays deleted whatever order Pub/Sub delivers in: tombstones in the real
Firestore emulator (and the in-memory store, held to the same rules), the sandbox as Customer.io,
messages through the real delivery handler with their publish times."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from customerio_gcp_local.push import cloud_event_data, push_body
from customerio_sandbox import SandboxControl

from customerio_gcp.customerio import AppClient, Identifiers, TrackClient
from customerio_gcp.delivery import DeliveryOutcome, PubSubDelivery
from customerio_gcp.people import (
    AttributeHashes,
    InMemoryHashStore,
    InMemoryTombstoneStore,
    Tombstone,
    Tombstones,
    TombstoneStore,
)
from customerio_gcp.people.firestore_store import FirestoreTombstoneStore
from customerio_gcp.service import MessagingService

T0 = 1_800_000_000  # the deletion's publish time, unix seconds


@pytest.fixture(params=["firestore", "memory"])
def store(request: pytest.FixtureRequest, unique: str) -> TombstoneStore:
    if request.param == "memory":
        return InMemoryTombstoneStore()
    return FirestoreTombstoneStore(request.getfixturevalue("firestore_client"), f"tombstones-{unique}")


def service(track: TrackClient, app: AppClient, store: TombstoneStore, workspace: str = "ws-a") -> MessagingService:
    return MessagingService(track, app, tombstones=Tombstones(store, lambda: workspace, clock=lambda: T0))


def push(topic: str, message: dict, published: float) -> dict:
    body = push_body(json.dumps(message).encode())
    body["message"]["publishTime"] = datetime.fromtimestamp(published, UTC).isoformat().replace("+00:00", "Z")
    return cloud_event_data(body)


def ops(control: SandboxControl) -> list[tuple[str, int]]:
    return [(r["operation"], r["status"]) for r in control.requests()]


def test_messages_older_than_a_deletion_are_skipped_newer_ones_go_through(
    track: TrackClient, app: AppClient, control: SandboxControl, store: TombstoneStore
) -> None:
    identify = PubSubDelivery("identify", service(track, app, store), None)
    events = PubSubDelivery("track", service(track, app, store), None)
    ada = {"id": "user-1005"}
    # Published in this order: identify, suppress, event, delete. Delivered: delete first.
    assert identify(push("identify", {"op": "delete", "identifiers": ada}, T0)) is DeliveryOutcome.DELIVERED
    identify(push("identify", {"op": "suppress", "identifiers": ada}, T0 - 0.001))
    identify(push("identify", {"op": "identify", "identifiers": ada, "attributes": {"plan": "pro"}}, T0 - 5))
    event = {"op": "event", "identifiers": ada, "name": "clicked", "timestamp": T0 - 60}
    events(push("track", event, T0 + 30))  # its own timestamp counts, not its (later) publish time
    assert ops(control) == [("delete", 200)]
    assert control.person("user-1005") is None  # the suppress did not re-create the deleted person
    # A person signing up again after the deletion goes through.
    again = {"op": "identify", "identifiers": ada, "attributes": {"plan": "free"}, "timestamp": T0 + 3600}
    identify(push("identify", again, T0 + 3600))
    assert control.person("user-1005")["attributes"] == {"plan": "free"}


def test_a_tie_goes_to_the_deletion(track: TrackClient, app: AppClient, control: SandboxControl, store) -> None:
    identify = PubSubDelivery("identify", service(track, app, store), None)
    identify(push("identify", {"op": "delete", "identifiers": {"id": "u"}, "timestamp": T0}, T0))
    identify(push("identify", {"op": "identify", "identifiers": {"id": "u"}, "timestamp": T0}, T0))
    assert ops(control) == [("delete", 200)]


def test_a_delete_suppresses_first_in_the_same_delivery(
    track: TrackClient, app: AppClient, control: SandboxControl, store: TombstoneStore
) -> None:
    identify = PubSubDelivery("identify", service(track, app, store), None)
    identify(push("identify", {"op": "delete", "identifiers": {"id": "u"}, "suppress": True}, T0))
    assert ops(control) == [("suppress", 200), ("delete", 200)]


def test_transactional_sends_to_a_deleted_person_are_skipped(
    track: TrackClient, app: AppClient, control: SandboxControl, store: TombstoneStore
) -> None:
    svc = service(track, app, store)
    PubSubDelivery("identify", svc, None)(push("identify", {"op": "delete", "identifiers": {"id": "u"}}, T0))
    send = {"op": "send_email", "transactional_message_id": 1, "to": "u@example.com", "identifiers": {"id": "u"}}
    PubSubDelivery("transactional", svc, None)(push("transactional", send, T0 - 1))
    assert control.deliveries() == []
    PubSubDelivery("transactional", svc, None)(push("transactional", send, T0 + 1))
    assert len(control.deliveries()) == 1


def test_tombstones_are_scoped_to_the_workspace(
    track: TrackClient, app: AppClient, control: SandboxControl, store: TombstoneStore
) -> None:
    PubSubDelivery("identify", service(track, app, store, "ws-a"), None)(
        push("identify", {"op": "delete", "identifiers": {"id": "u"}}, T0)
    )
    other = PubSubDelivery("identify", service(track, app, store, "ws-b"), None)
    other(push("identify", {"op": "identify", "identifiers": {"id": "u"}, "attributes": {"a": 1}}, T0 - 1))
    assert ops(control) == [("delete", 200), ("identify", 200)]


def test_emails_match_case_insensitively(track: TrackClient, app: AppClient, control: SandboxControl, store) -> None:
    identify = PubSubDelivery("identify", service(track, app, store), None)
    identify(push("identify", {"op": "delete", "identifiers": {"email": "Ada@Example.com"}}, T0))
    identify(push("identify", {"op": "suppress", "identifiers": {"email": "ada@example.com"}}, T0 - 1))
    assert [op for op, _ in ops(control)] == ["delete"]


def test_a_later_deletion_moves_the_tombstone_forward_never_back(store: TombstoneStore) -> None:
    tombstones = Tombstones(store, lambda: "ws", clock=lambda: T0)
    who = Identifiers(id="u")
    tombstones.bury(who, T0)
    tombstones.bury(who, T0 - 100)  # an older, redelivered deletion
    assert tombstones.deleted_since([who], T0)
    tombstones.bury(who, T0 + 100)
    assert tombstones.deleted_since([who], T0 + 50)


def test_a_lookup_of_many_people_finds_exactly_the_buried_ones(store: TombstoneStore) -> None:
    """One lookup for many people (as a busy instance's shared read asks): Firestore is asked with
    document-id `in` queries of 30 ids at most, and the buried ones are found in every chunk, the
    last one partial included, and nobody else."""
    keys = [f"ws|id|person-{i}" for i in range(75)]
    buried = {keys[i]: Tombstone(T0 + i, T0 + 86_400) for i in (0, 29, 30, 59, 61, 74)}
    store.put_many(buried)
    assert store.get_many(keys) == buried
    assert store.get_many(keys[1:29]) == {}


class BrokenStore:
    def get_many(self, keys: Sequence[str]) -> dict[str, Tombstone]:
        raise ConnectionError("Firestore unavailable")

    def put_many(self, tombstones: Mapping[str, Tombstone]) -> None:
        raise ConnectionError("Firestore unavailable")


def test_an_unreachable_store_retries_the_message_rather_than_risk_it(
    track: TrackClient, app: AppClient, control: SandboxControl
) -> None:
    handle = PubSubDelivery("identify", service(track, app, BrokenStore()), None)
    for message in ({"op": "identify", "identifiers": {"id": "u"}}, {"op": "delete", "identifiers": {"id": "u"}}):
        with pytest.raises(ConnectionError):  # the function answers 500: Pub/Sub redelivers
            handle(push("identify", message, T0))
    assert control.requests() == []


def test_unchanged_identify_hashes_are_scoped_to_the_workspace(
    track: TrackClient, app: AppClient, control: SandboxControl
) -> None:
    """After switching site id or region, identical identifies reach the new workspace."""
    hashes = InMemoryHashStore()
    who = Identifiers(id="u")
    for workspace in ("ws-a", "ws-a", "ws-b"):
        MessagingService(track, app, hashes=AttributeHashes(hashes, lambda w=workspace: w)).identify_user(
            who, {"plan": "pro"}
        )
    assert [op for op, _ in ops(control)] == ["identify", "identify"]
