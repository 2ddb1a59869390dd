"""Customer.io's reporting-webhook sender (issue 13): signed, in order, held behind a failure."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import httpx
import pytest
from customerio_gcp_local.stack import wait_until
from customerio_sandbox import Sandbox, SandboxControl, sign
from ulid import ULID

from tests.sandbox.conftest import app_auth
from tests.sandbox.receiver import Receiver

KEY = "whsec-sandbox-test"
FAST = {"first_delay_s": 0.02, "factor": 2.0, "max_delay_s": 0.1, "max_age_s": 30.0}
ALL = {"delivered": 1.0, "opened": 1.0, "clicked": 1.0, "bounced": 0.0}
EMAIL = {"transactional_message_id": 7, "to": "ada@example.com", "identifiers": {"id": "u1"}, "subject": "Hi"}
PUSH = {"transactional_message_id": 8, "identifiers": {"id": "u1"}}
SMS = {"transactional_message_id": 9, "to": "+15550100", "identifiers": {"email": "ada@example.com"}}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.stop()


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(rate_limits={"enabled": False}) as running:
        yield running


@pytest.fixture
def ctl(box: Sandbox) -> Iterator[SandboxControl]:
    control = SandboxControl(box.url)
    yield control
    control.close()


@pytest.fixture
def app(box: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=box.url, headers=app_auth(box), timeout=10.0, trust_env=False) as client:
        yield client


def metrics(rows: list) -> list[tuple[str, str]]:
    return [(r.event["data"]["delivery_id"], r.event["metric"]) for r in rows]


def test_every_send_reports_signed_events_in_order(
    box: Sandbox, ctl: SandboxControl, app: httpx.Client, receiver: Receiver
) -> None:
    ctl.set_webhooks(receiver.url, KEY, rates=ALL, retry=FAST)
    ids = [app.post(f"/v1/send/{ch}", json=body).json()["delivery_id"]
           for ch, body in (("email", EMAIL), ("push", PUSH), ("sms", SMS))]  # fmt: skip
    assert ctl.flush_webhooks(20)["drained"]

    got = receiver.accepted()
    assert len(got) == len(receiver.received)  # nothing failed
    assert all(r.signature_ok(KEY) for r in got)
    assert not got[0].signature_ok("another key")
    assert metrics(got) == [
        (ids[0], "sent"), (ids[0], "delivered"), (ids[0], "opened"), (ids[0], "clicked"),
        (ids[1], "sent"), (ids[1], "delivered"), (ids[1], "opened"), (ids[1], "clicked"),
        (ids[2], "sent"), (ids[2], "delivered"), (ids[2], "clicked"),  # sms has no opened
    ]  # fmt: skip
    email = [r.event for r in got[:4]]
    assert {e["object_type"] for e in email} == {"email"}
    assert [e["object_type"] for e in (got[4].event, got[8].event)] == ["push", "sms"]
    for event in email:
        assert set(event) == {"event_id", "object_type", "metric", "timestamp", "data"}
        ULID.from_str(event["event_id"])
        data = event["data"]
        assert data["identifiers"] == {"id": "u1"} and data["recipient"] == "ada@example.com"
        assert data["transactional_message_id"] == 7 and data["subject"] == "Hi"
    assert email[3]["data"]["href"].startswith("https://") and isinstance(email[3]["data"]["link_id"], int)
    assert "subject" not in got[8].event["data"] and got[8].event["data"]["recipient"] == "+15550100"
    assert len({r.event["event_id"] for r in got}) == len(got)
    assert [e["timestamp"] for e in email] == sorted(e["timestamp"] for e in email)
    state = ctl.webhooks()
    assert (state["queued"], state["sent"], state["failed"], state["dropped"]) == (0, 11, 0, 0)
    assert [e["event_id"] for e in state["events"]] == [r.event["event_id"] for r in got]


def test_bounces_and_broadcast_triggers(ctl: SandboxControl, app: httpx.Client, receiver: Receiver) -> None:
    ctl.set_webhooks(receiver.url, KEY, rates={"bounced": 1.0}, retry=FAST)
    app.post("/v1/send/email", json=EMAIL)
    assert ctl.flush_webhooks(20)["drained"]
    bounced = receiver.accepted()[-1].event
    assert [r.event["metric"] for r in receiver.accepted()] == ["sent", "bounced"]
    assert bounced["data"]["failure_message"]

    ctl.set_webhooks(receiver.url, KEY, rates={"delivered": 1.0, "opened": 0, "clicked": 0}, retry=FAST)
    trigger_id = app.post("/v1/campaigns/12/triggers", json={"ids": ["p1", "p2"]}).json()["id"]
    assert ctl.flush_webhooks(20)["drained"]
    events = [r.event for r in receiver.accepted()[2:]]
    assert [(e["data"]["identifiers"], e["metric"]) for e in events] == [
        ({"id": "p1"}, "sent"), ({"id": "p1"}, "delivered"), ({"id": "p2"}, "sent"), ({"id": "p2"}, "delivered"),
    ]  # fmt: skip
    assert {(e["data"]["broadcast_id"], e["data"]["trigger_id"], e["object_type"]) for e in events} == {
        (12, trigger_id, "email")
    }


def test_a_failed_event_holds_every_later_one_until_it_succeeds(
    ctl: SandboxControl, app: httpx.Client, receiver: Receiver
) -> None:
    answers = iter([500, 503, 429])
    receiver.answer = lambda _event: next(answers, 200)
    ctl.set_webhooks(receiver.url, KEY, rates={"delivered": 1.0, "opened": 0, "clicked": 0}, retry=FAST)
    for _ in range(2):
        app.post("/v1/send/email", json=EMAIL)
    assert ctl.flush_webhooks(20)["drained"]

    first = receiver.received[0].event["event_id"]
    assert [r.event["event_id"] for r in receiver.received[:4]] == [first] * 4  # 3 failures, then 2xx
    assert [r.status for r in receiver.received] == [500, 503, 429, 200, 200, 200, 200]
    assert [m for _, m in metrics(receiver.accepted())] == ["sent", "delivered"] * 2
    state = ctl.webhooks()
    assert (state["sent"], state["failed"], state["dropped"], state["events"][0]["attempts"]) == (4, 3, 0, 4)


def test_backlog_drains_when_the_receiver_comes_back(box: Sandbox, ctl: SandboxControl, app: httpx.Client) -> None:
    down = Receiver()
    port, url = down.port, down.url
    down.stop()  # connection refused from now on
    ctl.set_webhooks(url, KEY, rates={"delivered": 1.0, "opened": 0, "clicked": 0}, retry=FAST)
    for _ in range(3):
        app.post("/v1/send/sms", json=SMS)
    for _ in range(200):  # bounded: at most ~10 s
        if ctl.webhooks()["failed"] >= 3:
            break
        time.sleep(0.05)
    state = ctl.webhooks()
    assert state["failed"] >= 3 and state["sent"] == 0 and state["queued"] == 6
    assert state["events"][0]["last_error"] and state["events"][1]["attempts"] == 0  # held back

    back = Receiver(port)
    try:
        assert ctl.flush_webhooks(20)["drained"]
        assert [m for _, m in metrics(back.received)] == ["sent", "delivered"] * 3
        assert all(r.status == 200 and r.signature_ok(KEY) for r in back.received)
    finally:
        back.stop()


class ManualClock:
    """Monotonic seconds that move only when the test moves them."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_an_event_is_dropped_after_max_age_and_the_rest_go_on(receiver: Receiver) -> None:
    """Customer.io gives a failing event up after 7 days; the sandbox after `max_age_s` (here an
    hour) on its webhook clock, which the test moves: retries and the drop happen exactly when it
    says so, and not before."""
    first_delivered: list[str] = []

    def answer(event: dict) -> int:  # the first delivery's "delivered" fails, forever
        if event["metric"] == "delivered" and not first_delivered:
            first_delivered.append(event["event_id"])
        return 500 if event["event_id"] in first_delivered else 200

    receiver.answer = answer
    clock = ManualClock()
    settings = {"url": receiver.url, "signing_key": KEY, "rates": {"delivered": 1.0, "opened": 0, "clicked": 0},
                "retry": FAST | {"max_age_s": 3600.0}}  # fmt: skip
    with Sandbox(rate_limits={"enabled": False}, webhooks=settings, webhook_clock=clock) as box:
        ctl = SandboxControl(box.url)
        with httpx.Client(base_url=box.url, headers=app_auth(box), trust_env=False) as app:
            for _ in range(2):
                app.post("/v1/send/email", json=EMAIL)
        assert wait_until(lambda: ctl.webhooks()["failed"] == 1, timeout=10, interval=0.02)
        time.sleep(0.3)
        assert ctl.webhooks()["failed"] == 1  # the clock stands still: no retry yet
        clock.advance(FAST["first_delay_s"])
        assert wait_until(lambda: ctl.webhooks()["failed"] == 2, timeout=10, interval=0.02)
        time.sleep(0.3)
        assert ctl.webhooks()["failed"] == 2 and ctl.webhooks()["queued"] == 3  # held, the others behind it
        clock.advance(3600)
        assert ctl.flush_webhooks(20)["drained"]
        state = ctl.webhooks()
        ctl.close()

    assert (state["sent"], state["dropped"], state["queued"]) == (3, 1, 0)
    [dropped] = [e for e in state["events"] if e["state"] == "dropped"]
    assert dropped["event_id"] == first_delivered[0] and dropped["metric"] == "delivered"
    assert dropped["attempts"] == 2  # the first attempt and the one retry the clock allowed
    tries = [r.event["event_id"] for r in receiver.received]
    assert tries.count(dropped["event_id"]) == 2
    start = tries.index(dropped["event_id"])
    assert tries[start : start + 2] == [dropped["event_id"]] * 2  # held behind it meanwhile
    assert [m for _, m in metrics(receiver.accepted())] == ["sent", "sent", "delivered"]  # then went on


class WallClock:
    """Unix seconds that jump 10 s at every reading, so each signing gets a new timestamp."""

    def __init__(self) -> None:
        self._ticks = itertools.count(1_700_000_000, 10)

    def __call__(self) -> float:
        return float(next(self._ticks))


@pytest.mark.parametrize("keep", [True, False])
def test_retries_keep_or_refresh_the_timestamp(receiver: Receiver, keep: bool) -> None:
    answers = iter([500, 500])
    receiver.answer = lambda _event: next(answers, 200)
    settings = {"url": receiver.url, "signing_key": KEY, "retry": FAST, "keep_original_timestamp": keep,
                "rates": {"delivered": 0.0}}  # fmt: skip
    with Sandbox(rate_limits={"enabled": False}, webhooks=settings, wall_clock=WallClock()) as box:
        with httpx.Client(base_url=box.url, headers=app_auth(box), trust_env=False) as app:
            app.post("/v1/send/email", json=EMAIL)
        assert SandboxControl(box.url).flush_webhooks(20)["drained"]
    attempts = receiver.received
    assert [r.status for r in attempts] == [500, 500, 200]
    assert len({r.raw for r in attempts}) == 1  # the same body bytes every time
    assert all(r.signature_ok(KEY) for r in attempts)
    stamps = [r.headers["x-cio-timestamp"] for r in attempts]
    signatures = {r.headers["x-cio-signature"] for r in attempts}
    if keep:
        assert len(set(stamps)) == 1 and len(signatures) == 1
    else:
        assert len(set(stamps)) == 3 and len(signatures) == 3
        assert stamps == sorted(stamps)
    assert attempts[0].headers["x-cio-signature"] == sign(KEY, int(stamps[0]), attempts[0].raw)


def test_seeded_rates_repeat(receiver: Receiver) -> None:
    settings = {"url": receiver.url, "signing_key": KEY, "retry": FAST, "seed": 3,
                "rates": {"delivered": 0.8, "opened": 0.5, "clicked": 0.3, "bounced": 0.1}}  # fmt: skip

    def run() -> list[str]:
        with Sandbox(rate_limits={"enabled": False}, webhooks=settings) as box:
            with httpx.Client(base_url=box.url, headers=app_auth(box), trust_env=False) as app:
                for _ in range(10):
                    app.post("/v1/send/email", json=EMAIL)
            state = SandboxControl(box.url).flush_webhooks(20)
        return [e["metric"] for e in state["events"]]

    first = run()
    assert first == run()
    assert {"sent", "delivered", "opened", "clicked"} <= set(first)


def test_applied_sends_report_and_refused_ones_do_not(
    ctl: SandboxControl, app: httpx.Client, receiver: Receiver
) -> None:
    ctl.set_webhooks(receiver.url, KEY, rates={"delivered": 0.0}, retry=FAST)
    ctl.set_faults({"scripted": [{"apply_then_status": 502}, {"reset_before": True}, {"status": 503}]})
    assert app.post("/v1/send/email", json=EMAIL).status_code == 502
    with pytest.raises(httpx.TransportError):
        app.post("/v1/send/email", json=EMAIL)
    assert app.post("/v1/send/email", json=EMAIL).status_code == 503
    assert app.post("/v1/send/email", json={"identifiers": {"id": "u1"}}).status_code == 400
    assert ctl.flush_webhooks(20)["drained"]
    [delivery] = ctl.deliveries()
    assert [(r.event["data"]["delivery_id"], r.event["metric"]) for r in receiver.received] == [
        (delivery["delivery_id"], "sent")
    ]


def test_control_switch_off_reset_and_errors(box: Sandbox, ctl: SandboxControl, app: httpx.Client) -> None:
    assert ctl.webhooks()["configured"] is False
    app.post("/v1/send/email", json=EMAIL)
    assert ctl.webhooks()["events"] == []  # nothing emitted without a configuration
    for bad in ({"url": "ftp://x", "signing_key": KEY}, {"url": "http://127.0.0.1:9/x"},
                {"url": "http://127.0.0.1:9/x", "signing_key": KEY, "rates": {"opened": 2}},
                {"url": "http://127.0.0.1:9/x", "signing_key": KEY, "rates": {"sent": 1}},
                {"url": "http://127.0.0.1:9/x", "signing_key": KEY, "retry": {"first_delay": 1}},
                {"url": "http://127.0.0.1:9/x", "signing_key": KEY, "colour": "red"}):  # fmt: skip
        answer = httpx.put(box.url + "/_sandbox/webhooks", json=bad, trust_env=False)
        assert answer.status_code == 400, bad
    # Port 9 (discard) on loopback: nothing listens, every attempt fails fast.
    ctl.set_webhooks("http://127.0.0.1:9/cio", KEY, retry=FAST, rates={"delivered": 0.0})
    app.post("/v1/send/email", json=EMAIL)
    late = httpx.post(box.url + "/_sandbox/webhooks/flush", json={"timeout_s": 0.2}, trust_env=False, timeout=10)
    assert late.status_code == 504 and late.json()["drained"] is False and late.json()["queued"] == 1
    ctl.stop_webhooks()
    state = ctl.webhooks()
    assert state["configured"] is False and state["queued"] == 0 and state["discarded"] == 1
    ctl.reset()
    assert ctl.webhooks()["events"] == []


def test_the_sender_thread_stops_with_the_sandbox(receiver: Receiver) -> None:
    box = Sandbox(rate_limits={"enabled": False}).start()
    SandboxControl(box.url).set_webhooks(receiver.url, KEY)
    thread = box.webhooks._thread
    assert thread is not None and thread.is_alive()
    box.stop()
    assert not thread.is_alive()
