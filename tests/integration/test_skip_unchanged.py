"""Unchanged identifies are not sent: the hashes live in the real Firestore emulator, the
requests are counted at the sandbox."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest
from customerio_sandbox import SandboxControl

from customerio_gcp.customerio import AppClient, BadRequestError, Identifiers, ServerError, TrackClient
from customerio_gcp.people import AttributeHashes, StoredHash
from customerio_gcp.people.firestore_store import FirestoreHashStore
from customerio_gcp.service import MessagingService
from customerio_gcp.settings import Settings
from customerio_gcp.wiring.clients import build_service
from customerio_gcp.wiring.stores import build_hash_store

ADA = Identifiers(id="ada")


@pytest.fixture
def service(track: TrackClient, app: AppClient, firestore_client, unique: str) -> MessagingService:
    return MessagingService(
        track, app, hashes=AttributeHashes(FirestoreHashStore(firestore_client, f"hashes-{unique}"))
    )


def sent(control: SandboxControl) -> list[dict]:
    return [r for r in control.requests("identify") if r["status"] == 200]


def test_a_second_identical_identify_is_not_sent(service: MessagingService, control: SandboxControl,
                                                 lines: io.StringIO) -> None:  # fmt: skip
    service.identify_user(ADA, {"plan": "pro", "seats": 3}, timestamp=1)
    service.identify_user(ADA, {"seats": 3, "plan": "pro"}, timestamp=2)  # same attributes, other order
    assert len(sent(control)) == 1
    outcomes = [
        json.loads(line)["outcome"] for line in lines.getvalue().splitlines() if '"metric": "operation"' in line
    ]
    assert outcomes == ["success", "skipped"]


def test_a_changed_identify_is_sent(service: MessagingService, control: SandboxControl) -> None:
    service.identify_user(ADA, {"plan": "pro"})
    service.identify_user(ADA, {"plan": "team"})
    service.identify_user(ADA, {"plan": "team"}, update_only=True)  # another request shape
    assert [r["body"].get("plan") for r in sent(control)] == ["pro", "team", "team"]


def test_a_failed_send_is_retried_later_not_skipped(service: MessagingService, control: SandboxControl) -> None:
    control.set_faults({"scripted": [{"status": 503, "count": 3}]})  # more than the client's 3 attempts
    with pytest.raises(ServerError):
        service.identify_user(ADA, {"plan": "pro"})
    service.identify_user(ADA, {"plan": "pro"})
    assert [r["status"] for r in control.requests("identify")] == [503, 503, 503, 200]


@pytest.mark.parametrize(
    "operation",
    [
        lambda s: s.delete_user(ADA),
        lambda s: s.suppress_user(ADA),
        lambda s: s.unsuppress_user(ADA),
        lambda s: s.merge_users(ADA, Identifiers(id="other")),
    ],
    ids=["delete", "suppress", "unsuppress", "merge"],
)
def test_person_changing_operations_invalidate_the_hash(
    service: MessagingService, control: SandboxControl, operation
) -> None:
    service.identify_user(ADA, {"plan": "pro"})
    operation(service)
    service.identify_user(ADA, {"plan": "pro"})  # a re-created person must be identified again
    assert len(sent(control)) == 2


def test_a_refused_operation_still_invalidated_first(service: MessagingService, control: SandboxControl) -> None:
    service.identify_user(ADA, {"plan": "pro"})
    with pytest.raises(BadRequestError):
        service.merge_users(Identifiers(id="nobody"), ADA)  # Customer.io refuses: primary missing
    service.identify_user(ADA, {"plan": "pro"})
    assert len(sent(control)) == 2


def test_force_bypasses_the_check(service: MessagingService, control: SandboxControl) -> None:
    service.identify_user(ADA, {"plan": "pro"})
    service.identify_user(ADA, {"plan": "pro"}, force=True)
    assert len(sent(control)) == 2


def sandbox_env(sandbox: Any, unique: str) -> dict[str, str]:
    """The environment of a function talking to `sandbox`, with this test's hash collection."""
    return {
        "GOOGLE_CLOUD_PROJECT": "customerio-gcp-test",
        "CIO_TRACK_URL": sandbox.url,
        "CIO_SITE_ID": sandbox.credentials.site_id,
        "CIO_TRACK_API_KEY": sandbox.credentials.track_api_key,
        "IDENTIFY_HASH_COLLECTION": f"hashes-{unique}",
    }


def test_the_setting_turns_it_off(sandbox, control: SandboxControl, firestore_emulator: str, unique: str) -> None:
    env = sandbox_env(sandbox, unique)
    settings = Settings.from_env(env)
    on = build_service(settings, hash_store=build_hash_store(settings))
    on.identify_user(ADA, {"plan": "pro"})
    on.identify_user(ADA, {"plan": "pro"})
    settings = Settings.from_env(env | {"IDENTIFY_SKIP_UNCHANGED": "false"})
    off = build_service(settings, hash_store=build_hash_store(settings))
    off.identify_user(ADA, {"plan": "pro"})
    assert len(sent(control)) == 2


class BrokenStore:
    """A store whose backend is down: every call fails."""

    def get_many(self, keys: Sequence[str]) -> dict[str, StoredHash]:
        raise ConnectionError("store down")

    def put_many(self, hashes: Mapping[str, StoredHash]) -> None:
        raise ConnectionError("store down")

    def delete_many(self, keys: Iterable[str]) -> None:
        raise ConnectionError("store down")


def test_a_failing_store_never_blocks_an_identify_but_blocks_a_delete(
    track: TrackClient, app: AppClient, control: SandboxControl
) -> None:
    service = MessagingService(track, app, hashes=AttributeHashes(BrokenStore()))
    service.identify_user(ADA, {"plan": "pro"})
    service.identify_user(ADA, {"plan": "pro"})
    assert len(sent(control)) == 2
    with pytest.raises(ConnectionError):
        service.delete_user(ADA)  # retried by Pub/Sub rather than leaving a stale hash behind
    assert control.requests("delete") == []


def test_emails_are_compared_case_insensitively(service: MessagingService, control: SandboxControl) -> None:
    service.identify_user(Identifiers(email="Ada@Example.com"), {"plan": "pro"})
    service.identify_user(Identifiers(email="ada@example.com"), {"plan": "pro"})
    assert len(sent(control)) == 1


def test_a_functions_stores_share_one_firestore_client(firestore_emulator: str, unique: str) -> None:
    """identify's hashes and tombstones (transactional's records and tombstones) share a channel
    and credentials: a cold start opens one Firestore connection, not one per store."""
    from customerio_gcp.wiring.stores import build_idempotency_store, build_tombstone_store

    settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "customerio-gcp-test", "CIO_SITE_ID": "s"})
    clients = {id(store._client) for store in (build_hash_store(settings), build_tombstone_store(settings),
                                               build_idempotency_store(settings))}  # fmt: skip
    assert len(clients) == 1


def test_coalesced_identifies_are_never_skipped(sandbox, control: SandboxControl, firestore_emulator: str,
                                                unique: str) -> None:  # fmt: skip
    """v2 answers 200 to an identify older than the profile and ignores it: a hash remembered for
    it would hide the next real change. So identifies that go as batch items are always sent."""
    env = sandbox_env(sandbox, unique)
    settings = Settings.from_env(env)
    service = build_service(settings, hash_store=build_hash_store(settings), coalesce=True)
    service.identify_user(ADA, {"plan": "pro"})
    service.identify_user(ADA, {"plan": "pro"})
    assert sum(control.applied_count("identify").values()) == 2
