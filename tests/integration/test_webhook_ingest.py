"""webhook-ingest's handler, durable first: the real Pub/Sub emulator holds the events and the
quarantine, the BigQuery-subscription stand-in writes them into the real BigQuery emulator
(local-bigquery, through the official client), and the views are queried as analysts would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from customerio_gcp_local.bigquery import ensure_tables
from customerio_gcp_local.bigquery_subscription import BigQuerySubscription
from customerio_gcp_local.processes import free_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customerio_gcp.pipeline import load
from customerio_gcp.webhooks.events import KNOWN_METRICS
from customerio_gcp.webhooks.handler import WebhookHandler
from customerio_gcp.webhooks.keeping import EventKeeper
from customerio_gcp.webhooks.quarantine import CHUNK_BYTES, reassemble
from customerio_gcp.webhooks.rows import PARTITION_FUTURE_S, PARTITION_PAST_S, PersonalData
from customerio_gcp.webhooks.signature import MAX_AGE_S, signed_headers
from tests.conftest import PROJECT, pull_now, topic_with_subscription

KEY = "whsec-test-key"
EMAIL = "ada.lovelace@example.com"
NOW = 1_800_000_000.0
YEAR = 365 * 86_400
DELIVERY_ERROR = "CloudPubSubDeadLetterSourceDeliveryErrorMessage"  # the reason a BigQuery subscription gives


def event(event_id: str, object_type: str = "email", metric: str = "sent", **data: Any) -> dict[str, Any]:
    base = {"delivery_id": f"d-{event_id}", "recipient": EMAIL, "identifiers": {"id": "u1", "email": EMAIL}}
    return {"event_id": event_id, "object_type": object_type, "metric": metric, "timestamp": int(NOW) - 60,
            "data": base | data}  # fmt: skip


@dataclass
class Ingest:
    """One webhook-ingest handler and everything behind it, on names of its own."""

    events_topic: str
    events_subscription: str  # stands for the routing subscription: every event, as published
    quarantine_topic: str
    quarantine_subscription: str
    dead_letter_subscription: str
    dataset: str
    writer: BigQuerySubscription
    bigquery: Any

    def handler(self, personal: PersonalData = PersonalData.HASH, keeper: EventKeeper | None = None) -> WebhookHandler:
        keeper = keeper or EventKeeper(self.events_topic, self.quarantine_topic)
        return WebhookHandler(lambda _stale: [KEY], keeper, personal_data=personal, clock=lambda: NOW)

    def rows(self, table: str = "events", order_by: str = "event_id", expect: int | None = None) -> list[dict]:
        if expect is not None:
            deadline = time.monotonic() + 30
            while self.writer.written < expect and time.monotonic() < deadline:
                time.sleep(0.05)
        query = f"SELECT * FROM `{PROJECT}.{self.dataset}.{table}` ORDER BY {order_by}"
        return [dict(r.items()) for r in self.bigquery.query(query).result()]


@pytest.fixture
def ingest(bigquery, pubsub_emulator: str, unique: str) -> Iterator[Ingest]:
    dataset = f"cio_{unique}"
    ensure_tables(bigquery, PROJECT, dataset)
    events_topic, routed = topic_with_subscription(f"events-{unique}")
    quarantine_topic, quarantine = topic_with_subscription(f"quarantine-{unique}")
    dead_letter_topic, dead_letters = topic_with_subscription(f"bq-dead-letter-{unique}")
    from google.cloud import pubsub_v1

    subscriber = pubsub_v1.SubscriberClient()
    writer_subscription = subscriber.create_subscription(
        name=subscriber.subscription_path(PROJECT, f"events-bq-{unique}"), topic=events_topic
    ).name
    subscriber.close()
    writer = BigQuerySubscription(writer_subscription, f"{PROJECT}.{dataset}.events", dead_letter_topic, bigquery)
    writer.start()
    yield Ingest(events_topic, routed, quarantine_topic, quarantine, dead_letters, dataset, writer, bigquery)
    writer.stop()


def post(handler: WebhookHandler, payload: Any, key: str = KEY, raw: bytes | None = None, at: float = NOW):
    body = raw if raw is not None else json.dumps(payload).encode()
    return handler.handle("POST", signed_headers(body, key, int(at)), body)


def test_every_documented_object_type_and_metric_is_stored(ingest: Ingest) -> None:
    batch = [event(f"{o}-{m}", o, m) for o, metrics in KNOWN_METRICS.items() for m in sorted(metrics)]
    response = post(ingest.handler(), batch)
    assert response.status == 200 and response.body == {"accepted": len(batch), "quarantined": 0}
    stored = {(r["object_type"], r["metric"]) for r in ingest.rows(expect=len(batch))}
    assert stored == {(o, m) for o, metrics in KNOWN_METRICS.items() for m in metrics}


def test_one_message_per_event_with_filterable_attributes(ingest: Ingest) -> None:
    post(ingest.handler(), [event("a1", "email", "bounced"), event("a2", "customer", "unsubscribed")])
    messages = sorted(pull_now(ingest.events_subscription), key=lambda m: m.attributes["event_id"])
    assert [dict(m.attributes) for m in messages] == [
        {"object_type": "email", "metric": "bounced", "event_id": "a1"},
        {"object_type": "customer", "metric": "unsubscribed", "event_id": "a2"},
    ]
    assert json.loads(messages[0].data)["identifiers"]["id"] == "u1"  # the app acts on its own user id


def test_the_routing_filter_selects_the_routed_metrics() -> None:
    names = load().webhook
    assert names.routing_filter.count("attributes.metric = ") == len(names.routed_metrics)
    assert {"bounced", "spammed", "unsubscribed"} <= set(names.routed_metrics)


def test_unknown_object_types_and_metrics_are_stored_not_rejected(ingest: Ingest) -> None:
    novel = event("n1", "carrier_pigeon", "landed", wingspan=3) | {"new_top_level": {"x": 1}}
    assert post(ingest.handler(), novel).status == 200
    [row] = ingest.rows(expect=1)
    assert (row["object_type"], row["metric"]) == ("carrier_pigeon", "landed")
    raw = json.loads(row["raw"]) if isinstance(row["raw"], str) else row["raw"]
    assert raw["new_top_level"] == {"x": 1} and raw["data"]["wingspan"] == 3


def test_typed_columns_and_personal_data_hashed_or_masked_by_default(ingest: Ingest) -> None:
    click = event("c1", "email", "clicked", campaign_id=12, href=f"https://example.com/x?u={EMAIL}", link_id=7,
                  machine=False, subject=f"Hi {EMAIL}", journey_id="j-1", customer_id="123456789")  # fmt: skip
    bounce = event("c2", "email", "bounced", failure_message=f"550 5.1.1 <{EMAIL}>: mailbox unavailable")
    assert post(ingest.handler(), [click, bounce]).status == 200
    row, bounced = ingest.rows(expect=2)
    assert row["campaign_id"] == "12" and row["link_id"] == "7" and row["journey_id"] == "j-1"
    assert row["machine"] is False and row["customer_id"] == "123456789"
    assert row["href"] == "https://example.com/x?u=<email>" and row["subject"] == "Hi <email>"
    assert bounced["failure_message"] == "550 5.1.1 <<email>>: mailbox unavailable"  # the SMTP code stays
    assert row["recipient"].startswith("sha256:") and row["identifiers"]["email"] == row["recipient"]
    assert EMAIL not in json.dumps([row, bounced], default=str)  # typed columns and raw alike
    assert row["event_timestamp"].timestamp() == click["timestamp"]


@pytest.mark.parametrize("mode", [PersonalData.KEEP, PersonalData.DROP])
def test_personal_data_setting(ingest: Ingest, mode: PersonalData) -> None:
    bounce = event("p1", "email", "bounced", failure_message=f"no such user {EMAIL}", subject="Receipt")
    assert post(ingest.handler(mode), bounce).status == 200
    [row] = ingest.rows(expect=1)
    if mode is PersonalData.KEEP:
        assert row["recipient"] == EMAIL and row["failure_message"] == f"no such user {EMAIL}"
    else:
        assert row["recipient"] is None and row["identifiers"]["email"] is None
        assert row["failure_message"] is None and row["subject"] is None
        assert EMAIL not in json.dumps(row, default=str)


def test_a_seven_day_old_retry_is_accepted(ingest: Ingest) -> None:
    """Customer.io retries for 7 days, perhaps with the original timestamp."""
    old = event("late-1")
    assert post(ingest.handler(), old, at=NOW - 7 * 24 * 3600).status == 200
    assert post(ingest.handler(), event("too-late"), at=NOW - MAX_AGE_S - 1).status == 401
    assert [r["event_id"] for r in ingest.rows(expect=1)] == ["late-1"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all \xff", "body is not JSON"),
        (b"[]", "empty array"),
        (b'"a string"', "an event must be a JSON object"),
        (b'{"object_type": "email"}', "event_id: missing"),
    ],
)
def test_unparseable_signed_bodies_are_quarantined_whole_and_answered_200(ingest: Ingest, raw: bytes, reason) -> None:
    response = post(ingest.handler(), None, raw=raw)
    assert response.status == 200 and response.body == {"accepted": 0, "quarantined": 1}
    [kept] = reassemble((m.data, m.attributes) for m in pull_now(ingest.quarantine_subscription)).values()
    assert kept[0] == raw  # the exact bytes Customer.io signed
    assert kept[1]["reason"].startswith(reason) and kept[1]["kind"] == "body"
    assert pull_now(ingest.events_subscription) == []


def test_a_batch_keeps_its_valid_events_and_quarantines_each_invalid_item(ingest: Ingest) -> None:
    response = post(ingest.handler(), [event("b1"), {"nonsense": True}, event("b2"), 42])
    assert response.status == 200 and response.body == {"accepted": 2, "quarantined": 2}
    assert [r["event_id"] for r in ingest.rows(expect=2)] == ["b1", "b2"]
    kept = reassemble((m.data, m.attributes) for m in pull_now(ingest.quarantine_subscription))
    assert sorted(data for data, _ in kept.values()) == [b"42", b'{"nonsense":true}']
    assert {attrs["reason"].split(":")[0] for _, attrs in kept.values()} == {"item 1", "item 3"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (json.dumps(event("old-1") | {"timestamp": int(NOW) - 11 * YEAR}).encode(), "timestamp: outside"),
        (json.dumps(event("ahead-1") | {"timestamp": int(NOW) + 2 * YEAR}).encode(), "timestamp: outside"),
        (json.dumps(event("nan-1", score=float("nan"))).encode(), "a number JSON cannot carry"),  # as Python writes NaN
        (
            json.dumps(event("inf-1")).encode().replace(b'"recipient"', b'"score": 1e400, "recipient"'),
            "a number JSON cannot carry",
        ),
    ],
    ids=["11 years old", "2 years ahead", "NaN", "1e400"],
)
def test_an_event_bigquery_would_never_write_is_quarantined_not_accepted(ingest: Ingest, raw: bytes, reason) -> None:
    """Accepted and published, such an event would be refused by every write of the BigQuery
    subscription and sit in its dead-letter topic; quarantined, it is kept, counted and alerted on."""
    response = post(ingest.handler(), None, raw=raw)
    assert response.status == 200 and response.body == {"accepted": 0, "quarantined": 1}
    [kept] = reassemble((m.data, m.attributes) for m in pull_now(ingest.quarantine_subscription)).values()
    assert kept[0] == raw and kept[1]["reason"].startswith(reason)


def test_events_just_inside_the_window_are_written(ingest: Ingest) -> None:
    """The runtime's bounds lie inside BigQuery's: what webhook-ingest accepts, the stand-in (which
    refuses like BigQuery, on the real clock) writes. So this handler runs on the real clock too."""
    keeper = EventKeeper(ingest.events_topic, ingest.quarantine_topic)
    handler = WebhookHandler(lambda _stale: [KEY], keeper, personal_data=PersonalData.HASH)
    now = int(time.time())
    batch = [
        event("old") | {"timestamp": now - PARTITION_PAST_S + 60},  # the handler reads its clock a moment later
        event("ahead") | {"timestamp": now + PARTITION_FUTURE_S},
    ]
    assert post(handler, batch, at=now).body == {"accepted": 2, "quarantined": 0}
    assert [r["event_id"] for r in ingest.rows(expect=2)] == ["ahead", "old"]


def test_the_bigquery_stand_in_refuses_what_bigquery_refuses(ingest: Ingest) -> None:
    """What the emulator would take but BigQuery's streaming write refuses: a partitioning column
    outside 10 years back and 1 year ahead, and a JSON column holding NaN."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    now_us = int(time.time()) * 1_000_000
    old = {"event_id": "o", "object_type": "email", "metric": "sent", "event_timestamp": now_us - 11 * YEAR * 10**6}
    nan = {"event_id": "n", "object_type": "email", "metric": "sent", "event_timestamp": now_us, "raw": '{"x":NaN}'}
    for row in (old, nan):
        publisher.publish(ingest.events_topic, json.dumps(row).encode(), event_id=row["event_id"]).result(timeout=30)
    deadline = time.monotonic() + 30
    while ingest.writer.dead_lettered < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    dead = {m.attributes["event_id"]: m.attributes[DELIVERY_ERROR] for m in pull_now(ingest.dead_letter_subscription)}
    assert "event_timestamp" in dead["o"] and "NaN" in dead["n"] and ingest.writer.written == 0


def test_an_event_id_too_long_for_a_pubsub_attribute_is_quarantined_not_refused(ingest: Ingest) -> None:
    """A value Pub/Sub would refuse must not turn into a 503 that Customer.io retries for a week."""
    long_id = event("é" * 1000)  # 1,000 characters, 2,000 bytes
    response = post(ingest.handler(), [long_id, event("fine-1")])
    assert response.status == 200 and response.body == {"accepted": 1, "quarantined": 1}


def test_a_two_megabyte_sent_event_with_body_content_is_stored(ingest: Ingest) -> None:
    """Customer.io's "Body Content" option puts whole emails into `sent` events."""
    html = "<html><body>" + "<p>Your receipt, line by line.</p>" * 60_000 + "</body></html>"
    assert len(html) > 2_000_000
    assert post(ingest.handler(), event("big-1", content=html)).status == 200
    [row] = ingest.rows(expect=1)
    raw = json.loads(row["raw"]) if isinstance(row["raw"], str) else row["raw"]
    assert len(raw["data"]["content"]) == len(html)


def test_a_body_over_32_mib_gets_413_and_is_read_no_further(ingest: Ingest) -> None:
    class Endless:
        read_bytes = 0

        def read(self, size: int = -1) -> bytes:
            self.read_bytes += size
            return b"x" * size

    stream = Endless()
    headers = signed_headers(b"", KEY, int(NOW))
    assert ingest.handler().handle("POST", headers, stream).status == 413  # a chunked body with no end
    assert stream.read_bytes <= 32 * 1024 * 1024 + 64 * 1024
    forty = b"[" + b" " * (40 * 1024 * 1024) + b"]"
    assert ingest.handler().handle("POST", signed_headers(forty, KEY, int(NOW)), forty).status == 413


def test_a_large_unparseable_body_is_kept_in_chunks_and_reassembled(ingest: Ingest) -> None:
    raw = b"\x00" + b"y" * (19 * 1024 * 1024)
    assert post(ingest.handler(), None, raw=raw).status == 200
    messages = []
    while batch := pull_now(ingest.quarantine_subscription, max_messages=1):  # one 3 MiB chunk at a time
        messages += batch
    assert len(messages) == -(-len(raw) // CHUNK_BYTES) > 1 and all(len(m.data) <= 4_000_000 for m in messages)
    [(kept, _)] = reassemble((m.data, m.attributes) for m in messages).values()
    assert kept == raw


def test_duplicates_give_one_row_in_the_unique_view(ingest: Ingest) -> None:
    handler = ingest.handler()
    duplicate = event("dup-1")
    assert post(handler, duplicate).status == 200
    assert post(handler, duplicate).status == 200  # Customer.io retried
    assert len(ingest.rows(expect=2)) >= 1
    # Insert-id de-duplication is best effort (and the real subscription has none): force a copy.
    first = ingest.rows()[0]
    ingest.bigquery.insert_rows_json(
        f"{PROJECT}.{ingest.dataset}.events",
        [
            first
            | {
                "event_timestamp": first["event_timestamp"].isoformat(),
                "received_at": "2030-01-01T00:00:00Z",
                "raw": "{}",
            }
        ],
        row_ids=["another-insert-id"],
    )
    unique = ingest.rows("events_unique")
    assert len(unique) == 1 and unique[0]["event_id"] == "dup-1"
    assert unique[0]["received_at"].year < 2030  # the first arrival is the one kept


def test_the_unique_view_keeps_partition_pruning() -> None:
    """Filters on event_timestamp reach the table through the view only if the window partitions
    by it (BigQuery pushes filters below a window only on its PARTITION BY columns)."""
    from customerio_gcp_local.bigquery import view_sql

    sql = " ".join(view_sql("events_unique", project="p", dataset="d", table="t").split())
    assert "PARTITION BY event_timestamp, event_id" in sql


def test_delivery_funnel_on_a_known_set(ingest: Ingest) -> None:
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
    assert post(ingest.handler(), batch).status == 200
    ingest.rows(expect=len(batch))
    funnel = {(r["message_type"], r["message_id"]): r for r in ingest.rows("delivery_funnel", "message_id")}
    campaign = funnel[("campaign", "12")]
    assert {k: campaign[k] for k in ("sent", "delivered", "opened", "clicked", "bounced", "spammed", "unsubscribed")} == {
        "sent": 4, "delivered": 3, "opened": 2, "clicked": 1, "bounced": 1, "spammed": 1, "unsubscribed": 1,
    }  # fmt: skip
    assert campaign["delivery_rate"] == pytest.approx(0.75)
    assert campaign["bounce_rate"] == pytest.approx(0.25)
    receipt = funnel[("transactional", "receipt")]
    assert (receipt["sent"], receipt["delivered"], receipt["delivery_rate"]) == (2, 2, 1.0)
    assert len(funnel) == 2  # customer events are not deliveries


def test_a_row_bigquery_refuses_goes_to_the_subscriptions_dead_letter_topic(ingest: Ingest) -> None:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    bad = json.dumps({"event_id": "x", "object_type": "email", "metric": "sent", "no_such_column": 1}).encode()
    publisher.publish(ingest.events_topic, bad, event_id="x").result(timeout=30)
    deadline = time.monotonic() + 30
    while ingest.writer.dead_lettered < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    [dead] = pull_now(ingest.dead_letter_subscription)
    assert dead.data == bad and "no_such_column" in dead.attributes[DELIVERY_ERROR]


def test_a_row_bigquery_refuses_does_not_take_its_batch_with_it(ingest: Ingest) -> None:
    """BigQuery refuses a whole insert when one row is invalid ("stopped" for the others) unless
    told to skip invalid rows; a BigQuery subscription fails only the bad message. So must the
    stand-in: one refused row among good ones in the same pull."""
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    no_metric = json.dumps({"event_id": "bad-1", "object_type": "email"}).encode()  # metric is REQUIRED
    with ingest.writer.paused():
        time.sleep(2.5)  # a pull already waiting (2 s) returns empty: the three go in one pull
        assert post(ingest.handler(), [event("good-1"), event("good-2")]).status == 200
        publisher.publish(ingest.events_topic, no_metric, event_id="bad-1").result(timeout=30)
    assert [r["event_id"] for r in ingest.rows(expect=2)] == ["good-1", "good-2"]
    deadline = time.monotonic() + 30
    while ingest.writer.dead_lettered < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    [dead] = pull_now(ingest.dead_letter_subscription)
    assert dead.data == no_metric and "metric" in dead.attributes[DELIVERY_ERROR]
    assert ingest.writer.dead_lettered == 1


def test_pubsub_unreachable_is_the_one_503(ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> None:
    from google.cloud import pubsub_v1

    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there
    nowhere = pubsub_v1.PublisherClient()
    keeper = EventKeeper(ingest.events_topic, ingest.events_topic, client=nowhere, timeout=1.0)
    response = post(ingest.handler(keeper=keeper), event("x1"))
    assert response.status == 503 and response.body["reason"] == "storage"


def test_a_publish_pubsub_refuses_is_a_503_too(ingest: Ingest) -> None:
    """Pub/Sub answering with an error (here: the topic is gone) means nothing was kept either."""
    missing = ingest.events_topic.rsplit("/", 1)[0] + "/no-such-topic"
    keeper = EventKeeper(missing, missing, timeout=10.0)
    response = post(ingest.handler(keeper=keeper), event("r1"))
    assert response.status == 503 and response.body["reason"] == "storage"


def test_a_rotated_signing_key_is_picked_up(ingest: Ingest) -> None:
    keys = ["old-key"]
    refreshes = []

    def source(stale_since):
        if stale_since is not None:
            refreshes.append(stale_since)
            keys[0] = "new-key"
        return list(keys)

    now = [NOW]
    handler = WebhookHandler(source, EventKeeper(ingest.events_topic, ingest.events_topic), clock=lambda: now[0])
    assert post(handler, event("k1"), key="new-key").status == 200
    assert len(refreshes) == 1
    for i in range(5):  # a flood of forged requests right after does not re-fetch the keys each time
        assert post(handler, event(f"f{i}"), key="forged").status == 401
    assert len(refreshes) == 1
    now[0] = NOW + 29  # still inside the 30 s between forced re-fetches
    assert post(handler, event("f5"), key="forged", at=now[0]).status == 401
    assert len(refreshes) == 1
    now[0] = NOW + 31  # past it: one mismatch may look for a rotated key again
    assert post(handler, event("f6"), key="forged", at=now[0]).status == 401
    assert post(handler, event("f7"), key="forged", at=now[0]).status == 401
    assert len(refreshes) == 2


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
def test_property_unsigned_requests_never_5xx_and_never_keep(ingest: Ingest, method, headers, body) -> None:
    response = ingest.handler().handle(method, headers, body)
    assert response.status in (401, 405)
    assert pull_now(ingest.events_subscription) == [] and pull_now(ingest.quarantine_subscription) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=json_values | event_like | st.lists(event_like, max_size=3))
def test_property_signed_bodies_are_always_200_and_every_item_kept(ingest: Ingest, payload) -> None:
    response = post(ingest.handler(), payload)
    assert response.status == 200, response.body
    items = payload if isinstance(payload, list) and payload else [payload]
    kept = response.body["accepted"] + response.body["quarantined"]
    assert kept == len(items) or (response.body["quarantined"] == 1 and response.body["accepted"] == 0)


def test_quarantined_content_is_reprocessed_after_a_schema_fix(ingest: Ingest) -> None:
    """Yesterday's code quarantined two pieces; today's accepts one of them. Reprocessing publishes
    its event and acknowledges it; the other stays quarantined, nothing lost."""
    from customerio_gcp_ops.quarantine import reprocess
    from google.cloud import pubsub_v1

    from customerio_gcp.webhooks.quarantine import Quarantined

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    fixed = json.dumps([event("q-ok-1"), event("q-ok-2", "sms", "replied")]).encode()
    broken = b'{"event_id": "cut short'
    for piece in (
        Quarantined(fixed, "item 1: metric: unknown", "body", NOW),
        Quarantined(broken, "not JSON", "body", NOW),
    ):
        for data, attributes in piece.messages():
            publisher.publish(ingest.quarantine_topic, data, **attributes).result(timeout=30)
    dry = reprocess(subscriber, publisher, ingest.quarantine_subscription, ingest.events_topic, PersonalData.HASH,
                    dry_run=True, idle_s=1.0)  # fmt: skip
    assert (dry.pieces, dry.events, dry.still_quarantined) == (2, 2, 1)
    assert ingest.rows() == []  # a dry run publishes nothing and keeps everything
    report = reprocess(subscriber, publisher, ingest.quarantine_subscription, ingest.events_topic, PersonalData.HASH,
                       idle_s=1.0)  # fmt: skip
    assert (report.pieces, report.events, report.still_quarantined) == (2, 2, 1)
    assert [r["event_id"] for r in ingest.rows(expect=2)] == ["q-ok-1", "q-ok-2"]
    left = [m.data for m in pull_now(ingest.quarantine_subscription)]
    assert left == [broken]


def test_a_paused_bigquery_stand_in_writes_its_backlog_after(ingest: Ingest) -> None:
    """The benchmark pauses the stand-in (on Google Cloud it runs elsewhere): nothing is written
    meanwhile, nothing is lost after."""
    with ingest.writer.paused():
        time.sleep(2.5)  # let a pull already waiting (2 s deadline) run out
        assert post(ingest.handler(), [event("paused-1"), event("paused-2")]).status == 200
        time.sleep(1.0)
        assert ingest.writer.written == 0
    assert [r["event_id"] for r in ingest.rows(expect=2)] == ["paused-1", "paused-2"]
