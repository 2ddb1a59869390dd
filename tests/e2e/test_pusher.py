"""PullPusher plays a push subscription as Pub/Sub does: the body, what counts as success, the
backoff between attempts, dead-lettering after the configured attempts, several requests in
flight, a request timeout, a refused connection counted as a failed attempt.

Against the Pub/Sub emulator and a small HTTP endpoint whose answers each test scripts.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from customerio_gcp_local.processes import free_port
from customerio_gcp_local.pusher import PullPusher, PushSettings
from customerio_gcp_local.stack import wait_until
from google.protobuf import duration_pb2

from tests.conftest import PROJECT, pull_now

Answer = Callable[[dict[str, Any]], tuple[int, float]]  # push body -> (status, seconds to wait first)


@dataclass
class Endpoint:
    """Records every push request; answers with `answer(body)`."""

    answer: Answer
    port: int = field(default_factory=free_port)
    seen: list[tuple[float, float, dict[str, Any]]] = field(default_factory=list)  # (start, end, body)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> Endpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                started = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, delay = endpoint.answer(body)
                time.sleep(delay)
                endpoint.seen.append((started, time.monotonic(), body))
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the pusher gave up waiting
                    pass

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def bodies(self, tag: str) -> list[dict[str, Any]]:
        return [b for _s, _e, b in self.seen if b["message"].get("attributes", {}).get("tag") == tag]

    def times(self, tag: str) -> list[float]:
        return [s for s, _e, b in self.seen if b["message"].get("attributes", {}).get("tag") == tag]


@dataclass
class Subscription:
    topic: str
    subscription: str
    dead_letter_topic: str
    dead_letters: str

    def publish(self, data: bytes, **attributes: str) -> str:
        from google.cloud import pubsub_v1

        return str(pubsub_v1.PublisherClient().publish(self.topic, data, **attributes).result())


@pytest.fixture
def subscription(pubsub_emulator: str) -> Subscription:
    """A topic, its dead-letter topic, and a pull subscription as the stack creates them."""
    from google.cloud import pubsub_v1

    name = f"pusher-{uuid.uuid4().hex[:8]}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=publisher.topic_path(PROJECT, name)).name
    dead_letter_topic = publisher.create_topic(name=publisher.topic_path(PROJECT, name + "-dl")).name
    dead_letters = subscriber.create_subscription(
        name=subscriber.subscription_path(PROJECT, name + "-dl-inspect"), topic=dead_letter_topic
    ).name
    path = subscriber.subscription_path(PROJECT, name + "-push")
    subscriber.create_subscription(
        request={
            "name": path,
            "topic": topic,
            "ack_deadline_seconds": 10,
            "retry_policy": {
                "minimum_backoff": duration_pb2.Duration(seconds=1),
                "maximum_backoff": duration_pb2.Duration(seconds=3),
            },
            "dead_letter_policy": {"dead_letter_topic": dead_letter_topic, "max_delivery_attempts": 5},
        }
    )
    subscriber.close()
    return Subscription(topic, path, dead_letter_topic, dead_letters)


@pytest.fixture
def run() -> Iterator[Callable[..., tuple[Endpoint, PullPusher]]]:
    started: list[tuple[Endpoint, PullPusher]] = []

    def start(sub: Subscription, answer: Answer, *, serve: bool = True, **options: Any) -> tuple[Endpoint, PullPusher]:
        endpoint = Endpoint(answer)
        if serve:
            endpoint.start()
        pusher = PullPusher(sub.subscription, endpoint.url, **options).start()
        started.append((endpoint, pusher))
        return endpoint, pusher

    yield start
    for endpoint, pusher in started:
        pusher.stop()
        endpoint.stop()


def test_settings_are_read_from_the_subscription(subscription: Subscription, run: Any) -> None:
    _endpoint, pusher = run(subscription, lambda _body: (200, 0))
    assert pusher.settings == PushSettings(
        ack_deadline_s=10,
        minimum_backoff_s=1,
        maximum_backoff_s=3,
        max_delivery_attempts=5,
        dead_letter_topic=subscription.dead_letter_topic,
    )
    assert [pusher.settings.backoff_s(n) for n in (1, 2, 3, 4)] == [1, 2, 3, 3]


def test_the_push_body_and_what_counts_as_success(subscription: Subscription, run: Any) -> None:
    answers = {"a": 200, "b": 201, "c": 202, "d": 204}
    endpoint, pusher = run(subscription, lambda body: (answers[body["message"]["attributes"]["tag"]], 0))
    ids = {tag: subscription.publish(f"payload {tag}".encode(), tag=tag, op="x") for tag in answers}
    assert wait_until(lambda: all(endpoint.bodies(tag) for tag in answers), timeout=15)
    assert not wait_until(lambda: len(endpoint.seen) > len(answers), timeout=3)  # each acked: none redelivered
    for tag, message_id in ids.items():
        [body] = endpoint.bodies(tag)
        message = body["message"]
        assert set(body) == {"message", "subscription", "deliveryAttempt"}
        assert body["subscription"] == subscription.subscription
        assert body["deliveryAttempt"] == 1
        assert base64.b64decode(message["data"]) == f"payload {tag}".encode()
        assert message["attributes"] == {"tag": tag, "op": "x"}
        assert message["messageId"] == message["message_id"] == message_id
        assert message["publishTime"] == message["publish_time"]
        assert message["publishTime"].endswith("Z")
    assert pusher.counts["acked"] == len(answers)
    assert pull_now(subscription.dead_letters) == []


def test_an_empty_message_has_no_data_field(subscription: Subscription, run: Any) -> None:
    endpoint, _pusher = run(subscription, lambda _body: (200, 0))
    subscription.publish(b"", tag="empty")
    assert wait_until(lambda: endpoint.bodies("empty"), timeout=15)
    assert "data" not in endpoint.bodies("empty")[0]["message"]


def test_failures_back_off_exponentially_then_go_to_the_dead_letter_topic(subscription: Subscription, run: Any) -> None:
    # "doomed" always fails; 203 and 429 are not success for Pub/Sub push either.
    def answer(body: dict[str, Any]) -> tuple[int, float]:
        tag = body["message"]["attributes"]["tag"]
        if tag == "doomed":
            return 503, 0
        return (203 if tag == "non-success-2xx" else 429) if body["deliveryAttempt"] == 1 else 200, 0

    endpoint, pusher = run(subscription, answer)
    doomed = subscription.publish(b"doomed", tag="doomed", op="identify")
    for tag in ("non-success-2xx", "rate-limited"):
        subscription.publish(tag.encode(), tag=tag)

    letters: list[Any] = []
    assert wait_until(lambda: letters.extend(pull_now(subscription.dead_letters)) or letters, timeout=40)
    [letter] = letters
    assert [b["deliveryAttempt"] for b in endpoint.bodies("doomed")] == [1, 2, 3, 4, 5]
    times = endpoint.times("doomed")
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    for gap, backoff in zip(gaps, [1, 2, 3, 3], strict=True):
        assert backoff - 0.05 <= gap <= backoff + 1.5, gaps
    # What Pub/Sub's dead-letter policy forwards: the original data and attributes, plus its own.
    assert letter.data == b"doomed"
    assert letter.message_id != doomed
    attributes = dict(letter.attributes)
    published = attributes.pop("CloudPubSubDeadLetterSourceTopicPublishTime")
    assert published.endswith("Z") and published.startswith(time.strftime("%Y-"))
    assert attributes == {
        "tag": "doomed",
        "op": "identify",
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        "CloudPubSubDeadLetterSourceSubscription": subscription.subscription.rsplit("/", 1)[1],
        "CloudPubSubDeadLetterSourceSubscriptionProject": PROJECT,
    }
    # The original was acknowledged: never pushed again, never forwarded twice.
    assert not wait_until(lambda: len(endpoint.bodies("doomed")) > 5 or pull_now(subscription.dead_letters), timeout=4)
    for tag in ("non-success-2xx", "rate-limited"):
        assert [b["deliveryAttempt"] for b in endpoint.bodies(tag)] == [1, 2]
    assert pusher.counts["dead_lettered"] == 1
    assert pusher.held == 0


def test_several_requests_are_in_flight_up_to_the_concurrency(subscription: Subscription, run: Any) -> None:
    from google.cloud import pubsub_v1

    # A backlog first, published at once: publishing one by one while the pusher runs can fall
    # behind it on a loaded machine, and then fewer than 6 are ever in flight together.
    publisher = pubsub_v1.PublisherClient()
    for future in [publisher.publish(subscription.topic, b"x", tag=f"m{i}") for i in range(30)]:
        future.result(timeout=30)
    endpoint, _pusher = run(subscription, lambda _body: (200, 0.5), concurrency=6)
    assert wait_until(lambda: len(endpoint.seen) >= 30, timeout=30)
    edges = sorted([(start, 1) for start, _end, _b in endpoint.seen] + [(end, -1) for _s, end, _b in endpoint.seen])
    current = most = 0
    for _at, step in edges:
        current += step
        most = max(most, current)
    assert most == 6


def test_a_request_slower_than_the_ack_deadline_is_a_failed_attempt(subscription: Subscription, run: Any) -> None:
    settings = PushSettings(ack_deadline_s=1, minimum_backoff_s=1, maximum_backoff_s=1, max_delivery_attempts=5,
                            dead_letter_topic=subscription.dead_letter_topic)  # fmt: skip
    endpoint, pusher = run(
        subscription, lambda body: (200, 2.0 if body["deliveryAttempt"] == 1 else 0), settings=settings
    )
    subscription.publish(b"x", tag="slow")
    assert wait_until(lambda: len(endpoint.bodies("slow")) == 2, timeout=15)
    # Recorded as each answer goes out: the slow first one and the retry finish milliseconds apart.
    assert sorted(b["deliveryAttempt"] for b in endpoint.bodies("slow")) == [1, 2]
    assert wait_until(lambda: pusher.counts["acked"] == 1, timeout=5)
    assert pusher.counts["failed"] == 1


def test_a_refused_connection_is_a_failed_attempt(subscription: Subscription, run: Any) -> None:
    endpoint, pusher = run(subscription, lambda _body: (200, 0), serve=False)  # a function that is down
    subscription.publish(b"x", tag="later")
    assert wait_until(lambda: pusher.counts["failed"] >= 1, timeout=10)
    endpoint.start()  # it comes back on the same port
    assert wait_until(lambda: endpoint.bodies("later"), timeout=15)
    assert endpoint.bodies("later")[0]["deliveryAttempt"] >= 2
    assert wait_until(lambda: pusher.counts["acked"] == 1, timeout=5)
    assert pull_now(subscription.dead_letters) == []
