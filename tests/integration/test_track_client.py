"""Every Track API operation, through the real client, against the sandbox over HTTP."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp.customerio import BadRequestError, Identifiers, LimitExceededError, TrackClient, v2
from customerio_gcp.customerio.batching import pack
from customerio_gcp.ids import event_ulid


def test_identify_creates_and_updates_a_person(track: TrackClient, control: SandboxControl) -> None:
    who = Identifiers(id="user-1")
    track.identify(who, {"plan": "pro", "email": "ada@example.com"}, timestamp=1_700_000_000)
    track.identify(who, {"plan": "team"})
    person = control.person("user-1")
    assert person is not None
    assert person["attributes"] == {"plan": "team", "email": "ada@example.com"}
    first = control.requests("identify")[0]
    assert first["method"] == "PUT"
    assert first["path"] == "/api/v1/customers/user-1"
    assert first["body"]["_timestamp"] == 1_700_000_000


def test_identifiers_are_url_encoded(track: TrackClient, control: SandboxControl) -> None:
    track.identify(Identifiers(email="ada+news@example.com"), {"x": 1})
    track.identify(Identifiers(id="team/42 a"), {"x": 1})
    track.identify(Identifiers(cio_id="abc123"), {"x": 1})
    paths = [r["path"] for r in control.requests("identify")]
    assert paths == [
        "/api/v1/customers/" + quote("ada+news@example.com", safe=""),
        "/api/v1/customers/team%2F42%20a",
        "/api/v1/customers/cio_abc123",
    ]
    assert control.person("team/42 a") is not None


def test_update_only_never_creates(track: TrackClient, control: SandboxControl) -> None:
    track.identify(Identifiers(id="ghost"), {"plan": "pro"}, update_only=True)
    assert control.person("ghost") is None
    assert control.requests("identify")[0]["body"]["_update"] is True


def test_suppress_unsuppress_delete(track: TrackClient, control: SandboxControl) -> None:
    who = Identifiers(id="u2")
    track.identify(who, {"a": 1})
    track.suppress(who)
    assert control.person("u2")["suppressed"] is True
    track.unsuppress(who)
    assert control.person("u2")["suppressed"] is False
    track.delete(who)
    assert control.person("u2") is None
    assert [r["operation"] for r in control.requests()] == ["identify", "suppress", "unsuppress", "delete"]


def test_devices_added_and_removed(track: TrackClient, control: SandboxControl) -> None:
    who = Identifiers(id="u3")
    track.add_device(who, "tok/en 1", "ios", last_used=1_700_000_000, attributes={"app_version": "2.1"})
    assert control.person("u3")["devices"]["tok/en 1"]["platform"] == "ios"
    track.remove_device(who, "tok/en 1")
    assert control.person("u3")["devices"] == {}
    assert control.requests("remove_device")[0]["path"] == "/api/v1/customers/u3/devices/tok%2Fen%201"


def test_merge_moves_the_secondary_into_the_primary(track: TrackClient, control: SandboxControl) -> None:
    track.identify(Identifiers(id="primary"), {"a": 1})
    track.identify(Identifiers(id="secondary"), {"b": 2})
    track.merge(Identifiers(id="primary"), Identifiers(id="secondary"))
    assert control.person("primary")["attributes"] == {"a": 1, "b": 2}
    assert control.person("secondary") is None
    body = control.requests("merge")[0]["body"]
    assert body == {"primary": {"id": "primary"}, "secondary": {"id": "secondary"}}


def test_merge_into_a_missing_primary_is_a_bad_request(track: TrackClient) -> None:
    with pytest.raises(BadRequestError, match="primary"):
        track.merge(Identifiers(id="nobody"), Identifiers(id="other"))


def test_events_page_screen_and_anonymous(track: TrackClient, control: SandboxControl) -> None:
    who = Identifiers(id="u4")
    ulid = event_ulid(1_700_000_000, content={"n": 1})
    track.track(who, "purchased", {"total": 10}, event_id=ulid, timestamp=1_700_000_000)
    track.page(who, "https://example.com/pricing")
    track.screen(who, "Settings")
    track.track_anonymous("anon-1", "visited", {"ref": "ad"}, event_id=event_ulid(1_700_000_001, content={}))
    events = control.events()
    assert [(e["name"], e.get("type", "event")) for e in events] == [
        ("purchased", "event"),
        ("https://example.com/pricing", "page"),
        ("Settings", "screen"),
        ("visited", "event"),
    ]
    assert events[0]["id"] == ulid and events[0]["timestamp"] == 1_700_000_000
    assert events[3]["anonymous_id"] == "anon-1"


def test_a_repeated_event_ulid_is_ignored_by_the_sandbox(track: TrackClient, control: SandboxControl) -> None:
    ulid = event_ulid(1_700_000_000, content={"same": True})
    for _ in range(3):
        track.track(Identifiers(id="u5"), "signed_up", event_id=ulid, timestamp=1_700_000_000)
    assert len(control.events()) == 1
    notes = [r["note"] for r in control.requests("event")]
    assert notes == ["", "duplicate event id: ignored", "duplicate event id: ignored"]


def test_region_check(track: TrackClient) -> None:
    assert track.region() == {"url": "https://track.customer.io", "region": "us", "environment_id": 1}


def test_limits_are_checked_before_sending(track: TrackClient, control: SandboxControl) -> None:
    who = Identifiers(id="u6")
    cases = [
        (lambda: track.identify(who, {"a" * 151: 1}), "attribute name"),
        (lambda: track.identify(who, {"bio": "x" * 1001}), "value of attribute 'bio'"),
        (lambda: track.identify(who, {f"k{i}": i for i in range(301)}), "attribute count"),
        (lambda: track.track(who, "e" * 101), "event name"),
        (lambda: track.track(who, "big", {"blob": "x" * 100_000}), "event data"),
        (lambda: track.identify(Identifiers(id="i" * 151), {}), "identifier"),
    ]
    for call, limit in cases:
        with pytest.raises(LimitExceededError) as caught:
            call()
        assert limit in str(caught.value)
    assert control.requests() == []


def test_the_sandbox_enforces_the_same_limits(sandbox: Sandbox, track: TrackClient) -> None:
    """The sandbox is a second, independent check: a raw request over a limit is refused."""
    import httpx

    creds = sandbox.credentials
    response = httpx.put(
        f"{sandbox.url}/api/v1/customers/u7", json={"bio": "x" * 1001}, auth=(creds.site_id, creds.track_api_key)
    )
    assert response.status_code == 400
    assert response.json() == {"meta": {"errors": ["attribute value over 1000 bytes"]}}


def test_v2_entity(track: TrackClient, control: SandboxControl) -> None:
    track.entity(v2.identify(Identifiers(email="grace@example.com"), {"plan": "pro"}, timestamp=1_700_000_000))
    assert control.person("grace@example.com")["attributes"] == {"plan": "pro"}


def test_v2_batch_maps_207_failures_back_to_the_callers_items(
    sandbox: Sandbox, track: TrackClient, control: SandboxControl
) -> None:
    control.set_faults({"reject_identifiers": ["bad-2", "bad-5"]})
    ops = [v2.identify(Identifiers(id=f"{'bad' if i in (2, 5) else 'ok'}-{i}"), {"n": i}) for i in range(8)]
    result = track.batch(ops)
    assert result.total == 8 and result.requests == 1
    assert [f.index for f in result.failures] == [2, 5]
    assert result.failures[0].reason == "rejected"
    assert result.accepted == 6
    assert control.summary()["people"] == 6


def test_v2_batch_splits_by_size_and_keeps_indices(track: TrackClient, control: SandboxControl) -> None:
    # ~25 KB per operation: 20 of them cannot share one 500 KB request.
    ops = [v2.identify(Identifiers(id=f"p{i}"), {f"a{j}": "x" * 990 for j in range(25)}) for i in range(40)]
    control.set_faults({"reject_identifiers": ["p33"]})
    result = track.batch(ops)
    chunks = [p for p in pack(ops)]
    assert result.requests == len(chunks) > 1
    assert all(len(r["path"]) and r["status"] in (200, 207) for r in control.requests("v2_batch"))
    assert [f.index for f in result.failures] == [33]
    assert control.summary()["people"] == 39


def test_v2_batch_refuses_an_oversized_operation_locally(track: TrackClient, control: SandboxControl) -> None:
    huge = {"type": "person", "identifiers": {"id": "x"}, "action": "identify", "attributes": {"blob": "y" * 40_000}}
    fine = v2.identify(Identifiers(id="fine"), {"a": 1})
    result = track.batch([huge, fine])
    assert [f.index for f in result.failures] == [0]
    assert "v2 operation" in result.failures[0].message
    assert result.requests == 1
    assert control.summary()["people"] == 1


def test_v2_ignores_a_stale_identify_timestamp(track: TrackClient, control: SandboxControl) -> None:
    """The documented trap, reproduced: 200, but the older update is dropped."""
    who = Identifiers(id="late")
    track.entity(v2.identify(who, {"plan": "new"}, timestamp=2_000))
    track.entity(v2.identify(who, {"plan": "old"}, timestamp=1_000))
    assert control.person("late")["attributes"] == {"plan": "new"}
