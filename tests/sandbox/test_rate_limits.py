"""Customer.io's rate limits (issue 14): token buckets per surface, with an injected clock."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from customerio_sandbox import RateLimits, Sandbox, SandboxControl, TokenBucket
from customerio_sandbox.ratelimits import RateLimiter, retry_after, surface

from tests.sandbox.conftest import FakeClock, app_auth, track_auth

EMAIL = {"transactional_message_id": 7, "to": "a@example.com", "identifiers": {"id": "u1"}}


def test_bucket_starts_full_refills_at_its_rate_and_caps_at_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, capacity=3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(0.5)  # refused: one token comes in 1/rate s
    clock.advance(0.25)
    assert bucket.take() == pytest.approx(0.25)
    clock.advance(0.25)
    assert bucket.take() == 0.0
    clock.advance(100)
    assert bucket.tokens == 3  # never more than one burst


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    assert [retry_after(w) for w in (0.01, 1.0, 1.2, 9.5, 10.0)] == ["1", "1", "2", "10", "10"]


def test_surfaces() -> None:
    assert surface("track_v1", "identify") == surface("track_v2", "v2_batch") == "track"
    assert surface("app", "send_email") == surface("app", "send_sms") == "transactional"
    assert surface("app", "trigger_broadcast", "12") == "broadcast:12"
    assert surface("app", "list_broadcasts") == "app"
    assert surface("unknown", "unknown") is None


def test_app_api_bucket_is_10_per_second() -> None:
    clock = FakeClock()
    limiter = RateLimiter(RateLimits(), clock)
    assert [limiter.take("app") for _ in range(10)] == [0.0] * 10
    assert limiter.take("app") == pytest.approx(0.1)
    clock.advance(0.1)
    assert limiter.take("app") == 0.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(clock: FakeClock) -> Iterator[Sandbox]:
    with Sandbox(clock=clock) as running:  # the default: Customer.io's limits on
        yield running


@pytest.fixture
def control(limited: Sandbox) -> Iterator[SandboxControl]:
    ctl = SandboxControl(limited.url)
    yield ctl
    ctl.close()


def clients(box: Sandbox) -> tuple[httpx.Client, httpx.Client]:
    track = httpx.Client(base_url=box.url, headers=track_auth(box), timeout=5.0, trust_env=False)
    app = httpx.Client(base_url=box.url, headers=app_auth(box), timeout=5.0, trust_env=False)
    return track, app


def test_track_v1_and_v2_share_100_per_second(limited: Sandbox, control: SandboxControl, clock: FakeClock) -> None:
    track, app = clients(limited)
    with track, app:
        statuses = [track.put(f"/api/v1/customers/p{i}", json={"n": i}).status_code for i in range(60)]
        op = {"type": "person", "identifiers": {"id": "v2"}, "action": "identify", "attributes": {}}
        statuses += [track.post("/api/v2/entity", json=op).status_code for _ in range(40)]
        assert statuses == [200] * 100  # one second's burst
        refused = track.put("/api/v1/customers/late", json={"n": 1})
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert track.post("/api/v2/batch", json={"batch": [op]}).status_code == 429
        assert control.person("late") is None  # nothing applied
        assert app.post("/v1/send/email", json=EMAIL).status_code == 200  # another surface
        clock.advance(0.01)  # one token (100/s)
        assert track.put("/api/v1/customers/late", json={"n": 1}).status_code == 200
        assert track.put("/api/v1/customers/later", json={"n": 1}).status_code == 429
    summary = control.summary()
    assert summary["rate_limited"] == {"track": 3}
    assert [r["status"] for r in control.requests("identify")][-3:] == [429, 200, 429]


def test_transactional_sends_100_per_second(limited: Sandbox, control: SandboxControl, clock: FakeClock) -> None:
    _, app = clients(limited)
    with app:
        assert {app.post("/v1/send/push", json=EMAIL | {"to": None}).status_code for _ in range(100)} == {200}
        refused = app.post("/v1/send/email", json=EMAIL)
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "1")
        assert refused.json() == {"meta": {"error": "rate limit exceeded"}}
    assert len(control.deliveries()) == 100
    assert control.summary()["rate_limited"] == {"transactional": 1}


def test_broadcast_triggers_one_per_10_seconds_per_broadcast(
    limited: Sandbox, control: SandboxControl, clock: FakeClock
) -> None:
    _, app = clients(limited)
    body = {"ids": ["1"]}
    with app:
        assert app.post("/v1/campaigns/12/triggers", json=body).status_code == 200
        again = app.post("/v1/campaigns/12/triggers", json=body)
        assert (again.status_code, again.headers["Retry-After"]) == (429, "10")
        assert app.post("/v1/campaigns/13/triggers", json=body).status_code == 200  # its own bucket
        clock.advance(9.5)
        assert app.post("/v1/campaigns/12/triggers", json=body).headers["Retry-After"] == "1"
        clock.advance(0.5)
        assert app.post("/v1/campaigns/12/triggers", json=body).status_code == 200
    assert [t["broadcast_id"] for t in control.triggers()] == [12, 13, 12]
    assert control.summary()["rate_limited"] == {"broadcast:12": 2}


def test_limits_can_be_changed_switched_off_and_reset(
    limited: Sandbox, control: SandboxControl, clock: FakeClock
) -> None:
    track, _ = clients(limited)
    with track:
        answer = control.set_limits(track_per_s=2)
        assert answer["track_per_s"] == 2 and answer["transactional_per_s"] == 100 and answer["enabled"]
        assert [track.put("/api/v1/customers/a", json={}).status_code for _ in range(3)] == [200, 200, 429]
        control.set_limits(enabled=False)
        assert {track.put("/api/v1/customers/a", json={}).status_code for _ in range(150)} == {200}
        control.set_limits(enabled=True)  # back on, with the rate set before (2/s)
        assert [track.put("/api/v1/customers/a", json={}).status_code for _ in range(3)] == [200, 200, 429]
        control.reset()  # the start-up limits: 100/s
        assert control.limits()["track_per_s"] == 100
        assert {track.put("/api/v1/customers/a", json={}).status_code for _ in range(100)} == {200}


@pytest.mark.parametrize("bad", [{"track_per_s": 0}, {"enabled": "no"}, {"tracks_per_s": 5}, {"burst_s": -1}])
def test_bad_limits_are_refused(limited: Sandbox, bad: dict[str, object]) -> None:
    answer = httpx.put(limited.url + "/_sandbox/limits", json=bad, trust_env=False)
    assert answer.status_code == 400 and answer.json()["error"]


def test_constructor_argument_and_burst(clock: FakeClock) -> None:
    with Sandbox(clock=clock, rate_limits={"transactional_per_s": 0.4}) as box:
        _, app = clients(box)
        with app:
            assert app.post("/v1/send/email", json=EMAIL).status_code == 200  # capacity: at least 1
            refused = app.post("/v1/send/email", json=EMAIL)
            assert (refused.status_code, refused.headers["Retry-After"]) == (429, "3")  # 2.5 s, rounded up
    with Sandbox(clock=clock, rate_limits=RateLimits(enabled=False)) as box:
        assert SandboxControl(box.url).limits()["enabled"] is False
    with Sandbox(clock=clock, rate_limits={"burst_s": 0.05}) as box:  # 5 Track tokens at once
        track, _ = clients(box)
        with track:
            assert [track.put("/api/v1/customers/a", json={}).status_code for _ in range(6)] == [200] * 5 + [429]


def test_rate_limited_requests_do_not_use_up_scripted_faults(
    limited: Sandbox, control: SandboxControl, clock: FakeClock
) -> None:
    _, app = clients(limited)
    control.set_limits(transactional_per_s=1)
    control.set_faults({"scripted": [{"status": 503, "count": 1}]})
    with app:
        assert app.post("/v1/send/email", json=EMAIL).status_code == 503  # the token, then the fault
        assert app.post("/v1/send/email", json=EMAIL).status_code == 429
        clock.advance(1)
        assert app.post("/v1/send/email", json=EMAIL).status_code == 200


def test_retry_after_can_be_left_out(limited: Sandbox, control: SandboxControl) -> None:
    control.set_limits(transactional_per_s=1, retry_after_header=False)  # Customer.io does not document it
    _, app = clients(limited)
    with app:
        app.post("/v1/send/email", json=EMAIL)
        refused = app.post("/v1/send/email", json=EMAIL)
    assert refused.status_code == 429 and "retry-after" not in refused.headers
