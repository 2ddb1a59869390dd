"""Faults that apply the request and then fail the answer (issue 12), against refusals."""

from __future__ import annotations

import json
import socket

import httpx
import pytest
from customerio_sandbox import Sandbox, SandboxControl

EMAIL = {"transactional_message_id": 7, "to": "ada@example.com", "identifiers": {"id": "u1"},
         "message_data": {"key": "order-42"}}  # fmt: skip
EVENT_ID = "01J9Z8Y7X6W5V4T3S2R1Q0P9N8"

# What a client sees when the sandbox resets the connection after reading the request.
CONNECTION_BROKEN = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def test_apply_then_status_sends_once_and_answers_the_5xx(app_http: httpx.Client, ctl: SandboxControl) -> None:
    for status in (500, 502, 504):
        ctl.set_faults({"scripted": [{"apply_then_status": status, "count": 1, "path_contains": "/v1/send/"}]})
        answer = app_http.post("/v1/send/email", json=EMAIL)
        assert answer.status_code == status
    retry = app_http.post("/v1/send/email", json=EMAIL)  # the client's retry, fault used up
    assert retry.status_code == 200

    deliveries = ctl.deliveries()
    assert len(deliveries) == 4  # every applied send, including the three whose answer was replaced
    assert [d["answer_replaced"] for d in deliveries] == ["apply_then_status"] * 3 + [None]
    assert len({d["key"] for d in deliveries}) == 1  # same request body, same key
    assert ctl.applied_count("send_email") == {deliveries[0]["key"]: 4}
    assert ctl.applied_count("send_email", key_field="message_data.key") == {"order-42": 4}
    logged = ctl.requests("send_email")
    assert [(r["status"], r["answered"], r["fault"]) for r in logged] == [
        (200, 500, "apply_then_status"), (200, 502, "apply_then_status"), (200, 504, "apply_then_status"),
        (200, 200, ""),
    ]  # fmt: skip
    assert len(ctl.requests("send_email", accepted_only=True)) == 4
    summary = ctl.summary()
    assert summary["deliveries"] == 4 and summary["applied_by_operation"] == {"send_email": 4}
    assert summary["answers_replaced"] == {"apply_then_status": 3}


def test_apply_then_reset_applies_then_breaks_the_connection(track_http: httpx.Client, ctl: SandboxControl) -> None:
    ctl.set_faults({"scripted": [{"apply_then_reset": True, "path_contains": "/events"}]})
    with pytest.raises(CONNECTION_BROKEN):
        track_http.post("/api/v1/customers/u1/events", json={"name": "paid", "id": EVENT_ID})
    assert [e["id"] for e in ctl.events()] == [EVENT_ID]  # applied although no answer came
    [logged] = ctl.requests("event")
    assert (logged["status"], logged["answered"], logged["fault"]) == (200, None, "apply_then_reset")
    # The retry is a duplicate ULID: answered 200 and ignored, as Customer.io does.
    assert track_http.post("/api/v1/customers/u1/events", json={"name": "paid", "id": EVENT_ID}).status_code == 200
    assert ctl.applied_count("event") == {EVENT_ID: 1}


def test_apply_then_reset_on_a_send_duplicates_on_retry(app_http: httpx.Client, ctl: SandboxControl) -> None:
    ctl.set_faults({"scripted": [{"apply_then_reset": True}]})
    with pytest.raises(CONNECTION_BROKEN):
        app_http.post("/v1/send/sms", json={"transactional_message_id": 3, "identifiers": {"id": "u1"}})
    app_http.post("/v1/send/sms", json={"transactional_message_id": 3, "identifiers": {"id": "u1"}})
    assert list(ctl.applied_count("send_sms").values()) == [2]  # no idempotency key at Customer.io


def read_to_end(raw: socket.socket) -> None:
    while raw.recv(1024):
        pass


def test_apply_then_reset_is_a_tcp_reset_after_the_request_was_read(box: Sandbox, ctl: SandboxControl) -> None:
    ctl.set_faults({"scripted": [{"apply_then_reset": True}]})
    body = json.dumps({"transactional_message_id": 3, "identifiers": {"id": "u1"}}).encode()
    head = (
        f"POST /v1/send/push HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {box.credentials.app_api_key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    host, port = box.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(head.encode() + body)
        with pytest.raises(ConnectionResetError):  # an RST (SO_LINGER 0), not a polite FIN
            read_to_end(raw)
    assert len(ctl.deliveries()) == 1


def test_garbage_body_applies_and_answers_200_with_a_body_that_is_not_json(
    track_http: httpx.Client, app_http: httpx.Client, ctl: SandboxControl
) -> None:
    ctl.set_faults({"scripted": [{"garbage_body": True, "count": 2}]})
    answer = track_http.put("/api/v1/customers/u9", json={"plan": "pro"})
    assert answer.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        answer.json()
    assert ctl.person("u9")["attributes"] == {"plan": "pro"}
    sent = app_http.post("/v1/send/email", json=EMAIL)
    assert sent.status_code == 200 and "delivery_id" not in sent.text
    assert len(ctl.deliveries()) == 1
    # A string chooses the body: valid JSON, but not the documented shape.
    ctl.set_faults({"scripted": [{"garbage_body": '{"ok": true}'}]})
    assert app_http.post("/v1/send/email", json=EMAIL).json() == {"ok": True}
    assert len(ctl.deliveries()) == 2


def test_reset_before_applies_nothing(track_http: httpx.Client, app_http: httpx.Client, ctl: SandboxControl) -> None:
    ctl.set_faults({"scripted": [{"reset_before": True, "count": 2}]})
    with pytest.raises(CONNECTION_BROKEN):
        app_http.post("/v1/send/email", json=EMAIL)
    with pytest.raises(CONNECTION_BROKEN):
        track_http.put("/api/v1/customers/u1", json={"a": 1})
    assert ctl.deliveries() == [] and ctl.person("u1") is None and ctl.applied() == []
    assert [(r["status"], r["answered"], r["fault"]) for r in ctl.requests()] == [(0, None, "reset_before")] * 2
    assert ctl.summary()["applied"] == 0


def test_random_rates_of_each_kind(app_http: httpx.Client, ctl: SandboxControl) -> None:
    ctl.set_faults({"rate_apply_then_status": 1.0, "apply_then_status": 502})
    assert [app_http.post("/v1/send/email", json=EMAIL).status_code for _ in range(3)] == [502] * 3
    ctl.set_faults({"rate_garbage_body": 1.0})
    assert app_http.post("/v1/send/email", json=EMAIL).text.startswith("<html>")
    ctl.set_faults({"rate_apply_then_reset": 1.0})
    with pytest.raises(CONNECTION_BROKEN):
        app_http.post("/v1/send/email", json=EMAIL)
    ctl.set_faults({"rate_reset_before": 1.0})
    with pytest.raises(CONNECTION_BROKEN):
        app_http.post("/v1/send/email", json=EMAIL)
    assert [d["answer_replaced"] for d in ctl.deliveries()] == (
        ["apply_then_status"] * 3 + ["garbage_body", "apply_then_reset"]
    )


def test_seeded_mixed_rates_repeat(app_http: httpx.Client, ctl: SandboxControl, box: Sandbox) -> None:
    def run() -> list[str]:
        box.reset()
        ctl.set_faults({"seed": 7, "rate_apply_then_status": 0.3, "rate_garbage_body": 0.3})
        for _ in range(20):
            app_http.post("/v1/send/email", json=EMAIL)
        return [r["fault"] for r in ctl.requests()]

    first = run()
    assert first == run()
    assert {"apply_then_status", "garbage_body", ""} == set(first)


def test_an_invalid_request_under_an_apply_fault_is_not_applied(app_http: httpx.Client, ctl: SandboxControl) -> None:
    ctl.set_faults({"scripted": [{"apply_then_status": 500}]})
    assert app_http.post("/v1/send/email", json={"identifiers": {"id": "u1"}}).status_code == 500
    [logged] = ctl.requests()
    assert (logged["status"], logged["answered"]) == (400, 500) and ctl.deliveries() == []


@pytest.mark.parametrize(
    "bad",
    [
        {"scripted": [{"apply_then_status": 404}]},
        {"scripted": [{"status": 500, "apply_then_reset": True}]},
        {"scripted": [{"count": 1}]},
        {"scripted": [{"status": 500, "typo": 1}]},
        {"rate_apply_then_reset": 0.7, "rate_5xx": 0.7},
        {"rate_garbage_bodyy": 0.1},
    ],
)
def test_bad_fault_settings_are_refused(box: Sandbox, bad: dict[str, object]) -> None:
    answer = httpx.put(box.url + "/_sandbox/faults", json=bad, trust_env=False)
    assert answer.status_code == 400 and answer.json()["error"]


def test_old_style_faults_still_work(track_http: httpx.Client, ctl: SandboxControl) -> None:
    ctl.set_faults({"scripted": [{"status": 503, "count": 1, "path_contains": "/customers", "text": "down"}]})
    answer = track_http.put("/api/v1/customers/u1", json={"a": 1})
    assert (answer.status_code, answer.text) == (503, "down")
    [logged] = ctl.requests()
    assert (logged["status"], logged["answered"], logged["fault"]) == (503, 503, "")
    assert ctl.person("u1") is None


def test_a_fault_scoped_to_a_person_hits_only_requests_about_them(
    track_http: httpx.Client, app_http: httpx.Client, ctl: SandboxControl
) -> None:
    """A coalesced sender's requests all go to /api/v2/batch: `identifier` picks the ones holding an
    operation for that person, and fails the whole request (its neighbours with it)."""
    ctl.set_faults({"scripted": [{"status": 503, "count": 2, "identifier": "u7"}]})

    def batch(*people: str) -> int:
        ops = [
            {"type": "person", "identifiers": {"id": p}, "action": "identify", "attributes": {"n": 1}} for p in people
        ]
        return track_http.post("/api/v2/batch", json={"batch": ops}).status_code

    assert batch("u1", "u2") == 200  # not about u7: untouched
    assert track_http.put("/api/v1/customers/u3", json={"a": 1}).status_code == 200
    assert batch("u4", "u7") == 503  # about u7: the whole request refused, u4 too
    assert app_http.post("/v1/send/email", json=EMAIL | {"identifiers": {"id": "u7"}}).status_code == 503
    assert batch("u7", "u8") == 200  # used up
    assert ctl.person("u4") is None and ctl.person("u8") is not None  # nothing of a refused batch applied
    assert ctl.faults()["scripted"][0]["count"] == 0

    about = ctl.requests(identifier="u7")
    assert [(r["operation"], r["status"]) for r in about] == [("v2_batch", 503), ("send_email", 503), ("v2_batch", 200)]
    assert [r["people"] for r in ctl.requests()][:3] == [["u1", "u2"], ["u3"], ["u4", "u7"]]
    ctl.set_faults({"scripted": [{"status": 400, "identifier": "u9", "path_contains": "/customers/"}]})
    assert track_http.post("/api/v1/customers/u9/events", json={"name": "n"}).status_code == 400
    assert [r["status"] for r in ctl.requests("event", identifier="u9")] == [400]
