"""webhook-ingest's handler with the real BigQuery emulator (local-bigquery, through the official
google-cloud-bigquery client) and the real Pub/Sub emulator for routing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customerio_gcp.webhooks.events import KNOWN_METRICS
from customerio_gcp.webhooks.handler import WebhookHandler
from customerio_gcp.webhooks.routing import EventRouter
from customerio_gcp.webhooks.rows import PersonalData
from customerio_gcp.webhooks.signature import signed_headers
from customerio_gcp.webhooks.sink import BigQuerySink, ensure_tables
from tests.conftest import PROJECT, pull_now, topic_with_subscription

KEY = "whsec-test-key"
EMAIL = "ada.lovelace@example.com"


def event(event_id: str, object_type: str = "email", metric: str = "sent", **data: Any) -> dict[str, Any]:
    base = {"delivery_id": f"d-{event_id}", "recipient": EMAIL, "identifiers": {"id": "u1", "email": EMAIL}}
    return {
        "event_id": event_id,
        "object_type": object_type,
        "metric": metric,
        "timestamp": int(time.time()),
        "data": base | data,
    }


def post(handler: WebhookHandler, payload: Any, key: str = KEY, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return handler.handle("POST", signed_headers(body, key), body)


@pytest.fixture
def dataset(bigquery, unique: str) -> str:
    name = f"cio_{unique}"
    ensure_tables(bigquery, PROJECT, name)
    return name


@pytest.fixture
def routing(pubsub_emulator: str, unique: str) -> tuple[str, str]:
    return topic_with_subscription(f"webhook-events-{unique}")


def handler_for(
    bigquery_emulator: str,
    dataset: str,
    *,
    router: EventRouter | None = None,
    personal=PersonalData.HASH,
    table="events",
    endpoint=None,
) -> WebhookHandler:
    sink = BigQuerySink(PROJECT, dataset, table, endpoint=endpoint or bigquery_emulator)
    return WebhookHandler(lambda _stale: [KEY], sink, router, personal_data=personal)


def rows(bigquery, dataset: str, table: str = "events", order_by: str = "event_id") -> list[dict]:
    query = f"SELECT * FROM `{PROJECT}.{dataset}.{table}` ORDER BY {order_by}"
    return [dict(r.items()) for r in bigquery.query(query).result()]


def test_every_documented_object_type_and_metric_is_stored(bigquery, bigquery_emulator, dataset) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    batch = [event(f"{o}-{m}", o, m) for o, metrics in KNOWN_METRICS.items() for m in sorted(metrics)]
    response = post(handler, batch)
    assert response.status == 200 and response.body["accepted"] == len(batch) == 69
    stored = {(r["object_type"], r["metric"]) for r in rows(bigquery, dataset)}
    assert stored == {(o, m) for o, metrics in KNOWN_METRICS.items() for m in metrics}


def test_unknown_object_types_and_metrics_are_stored_not_rejected(bigquery, bigquery_emulator, dataset) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    novel = event("n1", "carrier_pigeon", "landed", wingspan=3) | {"new_top_level": {"x": 1}}
    assert post(handler, novel).status == 200
    [row] = rows(bigquery, dataset)
    assert (row["object_type"], row["metric"]) == ("carrier_pigeon", "landed")
    raw = json.loads(row["raw"]) if isinstance(row["raw"], str) else row["raw"]
    assert raw["new_top_level"] == {"x": 1} and raw["data"]["wingspan"] == 3


def test_typed_columns_and_personal_data_hashed_by_default(bigquery, bigquery_emulator, dataset) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    click = event(
        "c1",
        "email",
        "clicked",
        campaign_id=12,
        href="https://example.com/x",
        link_id=7,
        machine=False,
        subject="Hi",
        journey_id="j-1",
    )
    assert post(handler, click).status == 200
    [row] = rows(bigquery, dataset)
    assert row["campaign_id"] == "12" and row["link_id"] == "7" and row["href"] == "https://example.com/x"
    assert row["machine"] is False and row["subject"] == "Hi" and row["journey_id"] == "j-1"
    assert row["delivery_id"] == "d-c1" and row["identifiers"]["id"] == "u1"
    assert row["recipient"].startswith("sha256:") and row["identifiers"]["email"] == row["recipient"]
    assert EMAIL not in json.dumps(row, default=str)
    assert row["event_timestamp"].timestamp() == click["timestamp"]


@pytest.mark.parametrize(("mode", "expect"), [(PersonalData.KEEP, EMAIL), (PersonalData.DROP, None)])
def test_personal_data_setting(bigquery, bigquery_emulator, dataset, mode, expect) -> None:
    handler = handler_for(bigquery_emulator, dataset, personal=mode)
    assert post(handler, event("p1", "email", "bounced", failure_message="mailbox full")).status == 200
    [row] = rows(bigquery, dataset)
    assert row["recipient"] == expect and row["identifiers"]["email"] == expect
    assert row["failure_message"] == "mailbox full"


@pytest.mark.parametrize(
    ("method", "raw", "key", "status", "reason"),
    [
        ("GET", b"", KEY, 405, "method"),
        ("POST", b"x" * 1_000_001, KEY, 413, "too_large"),
        ("POST", b"{not json", KEY, 400, "not_json"),
        ("POST", b'"just a string"', KEY, 400, "not_an_event"),
        ("POST", b"[]", KEY, 400, "not_an_event"),
        ("POST", b'{"object_type": "email", "metric": "sent", "timestamp": 1}', KEY, 400, "not_an_event"),
        (
            "POST",
            b'{"event_id": "e", "object_type": "email", "metric": "sent", "timestamp": "soon"}',
            KEY,
            400,
            "not_an_event",
        ),
        (
            "POST",
            b'{"event_id": "e", "object_type": "email", "metric": "sent", "timestamp": 1}',
            "forged",
            401,
            "bad_signature",
        ),
    ],
)
def test_bad_requests_get_clear_4xx_and_write_nothing(
    bigquery, bigquery_emulator, dataset, method, raw, key, status, reason
) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    response = handler.handle(method, signed_headers(raw, key), raw)
    assert (response.status, response.body["reason"]) == (status, reason)
    assert rows(bigquery, dataset) == []


def test_stale_and_unsigned_requests_get_401(bigquery_emulator, dataset) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    body = json.dumps(event("s1")).encode()
    assert handler.handle("POST", signed_headers(body, KEY, int(time.time()) - 600), body).status == 401
    assert handler.handle("POST", {}, body).status == 401


def test_a_batch_keeps_its_valid_events(bigquery, bigquery_emulator, dataset) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    response = post(handler, [event("b1"), {"nonsense": True}, event("b2"), 42])
    assert response.status == 200 and response.body == {"accepted": 2, "skipped": 2, "routed": 0}
    assert [r["event_id"] for r in rows(bigquery, dataset)] == ["b1", "b2"]


def test_duplicates_give_one_row_in_the_unique_view(bigquery, bigquery_emulator, dataset) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    duplicate = event("dup-1")
    assert post(handler, duplicate).status == 200
    assert post(handler, duplicate).status == 200  # Customer.io retried
    # BigQuery's insert-id de-duplication is best effort: force a copy past it, as a miss would.
    bigquery.insert_rows_json(
        f"{PROJECT}.{dataset}.events",
        [
            rows(bigquery, dataset)[0]
            | {
                "event_timestamp": rows(bigquery, dataset)[0]["event_timestamp"].isoformat(),
                "received_at": "2030-01-01T00:00:00Z",
                "raw": "{}",
            }
        ],
        row_ids=["another-insert-id"],
    )
    assert len(rows(bigquery, dataset)) == 2
    unique = rows(bigquery, dataset, "events_unique")
    assert len(unique) == 1 and unique[0]["event_id"] == "dup-1"
    assert unique[0]["received_at"].year < 2030  # the first arrival is the one kept


def test_delivery_funnel_on_a_known_set(bigquery, bigquery_emulator, dataset) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    steps = {
        "sent": ["d1", "d2", "d3", "d4"],
        "delivered": ["d1", "d2", "d3"],
        "opened": ["d1", "d1", "d2"],  # d1 opened twice: counted once
        "clicked": ["d1"],
        "bounced": ["d4"],
        "spammed": ["d2"],
        "unsubscribed": ["d3"],
    }
    batch = [
        event(f"{metric}-{i}", "email", metric, delivery_id=d, campaign_id=12)
        for metric, deliveries in steps.items()
        for i, d in enumerate(deliveries)
    ]
    batch += [
        event(f"t-{m}-{d}", "email", m, delivery_id=f"t{d}", transactional_message_id="receipt")
        for m in ("sent", "delivered")
        for d in (1, 2)
    ]
    batch += [event("cust-1", "customer", "unsubscribed")]
    assert post(handler, batch).status == 200
    funnel = {(r["message_type"], r["message_id"]): r for r in rows(bigquery, dataset, "delivery_funnel", "message_id")}
    campaign = funnel[("campaign", "12")]
    assert {k: campaign[k] for k in ("sent", "delivered", "opened", "clicked", "bounced", "spammed", "unsubscribed")} == {
        "sent": 4, "delivered": 3, "opened": 2, "clicked": 1, "bounced": 1, "spammed": 1, "unsubscribed": 1,
    }  # fmt: skip
    assert campaign["channel"] == "email"
    assert campaign["delivery_rate"] == pytest.approx(0.75)
    assert campaign["open_rate"] == pytest.approx(2 / 3)
    assert campaign["click_rate"] == pytest.approx(1 / 3)
    assert campaign["bounce_rate"] == pytest.approx(0.25)
    assert campaign["spam_rate"] == pytest.approx(1 / 3)
    receipt = funnel[("transactional", "receipt")]
    assert (receipt["sent"], receipt["delivered"], receipt["delivery_rate"]) == (2, 2, 1.0)
    assert len(funnel) == 2  # customer events are not deliveries


def test_routing_publishes_the_configured_subset(bigquery, bigquery_emulator, dataset, routing) -> None:
    topic, subscription = routing
    router = EventRouter(topic, metrics=["bounced", "spammed", "unsubscribed"])
    handler = handler_for(bigquery_emulator, dataset, router=router)
    response = post(
        handler,
        [event("r1", "email", "bounced"), event("r2", "email", "opened"), event("r3", "customer", "unsubscribed")],
    )
    assert response.body == {"accepted": 3, "skipped": 0, "routed": 2}
    messages = sorted(pull_now(subscription), key=lambda m: m.attributes["event_id"])
    assert [(m.attributes["object_type"], m.attributes["metric"], m.attributes["event_id"]) for m in messages] == [
        ("email", "bounced", "r1"),
        ("customer", "unsubscribed", "r3"),
    ]
    assert json.loads(messages[0].data)["data"]["recipient"] == EMAIL  # the app needs the address to act
    assert len(rows(bigquery, dataset)) == 3  # all are stored, whatever is routed


def test_bigquery_unreachable_gives_503_and_nothing_is_routed(bigquery_emulator, dataset, routing) -> None:
    from customerio_gcp_local.processes import free_port

    topic, subscription = routing
    handler = handler_for(
        bigquery_emulator, dataset, router=EventRouter(topic), endpoint=f"http://127.0.0.1:{free_port()}"
    )
    response = post(handler, event("x1"))
    assert response.status == 503 and response.body["reason"] == "storage"
    assert pull_now(subscription) == []


def test_a_missing_table_gives_503_and_writes_nothing(bigquery, bigquery_emulator, dataset, routing) -> None:
    topic, subscription = routing
    handler = handler_for(bigquery_emulator, dataset, router=EventRouter(topic), table="no_such_table")
    assert post(handler, [event("y1"), event("y2")]).status == 503
    assert rows(bigquery, dataset) == [] and pull_now(subscription) == []


def test_a_rotated_signing_key_is_picked_up(bigquery_emulator, dataset) -> None:
    keys = ["old-key"]
    refreshes = []

    def source(stale_since):
        if stale_since is not None:
            refreshes.append(stale_since)
            keys[0] = "new-key"
        return list(keys)

    handler = WebhookHandler(source, BigQuerySink(PROJECT, dataset, endpoint=bigquery_emulator))
    assert post(handler, event("k1"), key="new-key").status == 200
    assert len(refreshes) == 1
    # A flood of forged requests right after does not re-fetch the keys each time.
    for i in range(5):
        assert post(handler, event(f"f{i}"), key="forged").status == 401
    assert len(refreshes) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {
        "event_id": st.text(max_size=30) | st.integers(),
        "object_type": st.text(max_size=10),
        "metric": st.text(max_size=10),
        "timestamp": st.integers(-10, 2**40),
    },
    optional={"data": json_values},
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["POST", "GET", "PUT", "post"]),
    headers=st.dictionaries(
        st.sampled_from(["X-CIO-Timestamp", "X-CIO-Signature", "Content-Type", "x-cio-signature"]), st.text(max_size=70)
    ),
    body=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
)
def test_property_unsigned_requests_never_5xx_and_never_write(
    bigquery, bigquery_emulator, dataset, method, headers, body
) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    response = handler.handle(method, headers, body)
    assert response.status in (401, 405, 413)
    assert rows(bigquery, dataset) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=json_values | event_like | st.lists(event_like, max_size=3))
def test_property_signed_bodies_never_5xx(bigquery_emulator, dataset, payload) -> None:
    handler = handler_for(bigquery_emulator, dataset)
    response = post(handler, payload)
    assert response.status in (200, 400), response.body
