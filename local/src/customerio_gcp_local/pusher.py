"""Pub/Sub push, played from a pull subscription: the only delivery path of every local run.

The Pub/Sub emulator's own push loop was seen to stop pushing a subscription for good under
sustained endpoint failures and after the endpoint's process restarts, with messages neither
delivered, redelivered nor dead-lettered (docs: local-gcp.md) — something the real service does
not do. So `make run`, the e2e suite and the reliability suite create the delivery subscriptions
as pull subscriptions (with Terraform's retry and dead-letter policies) and a `PullPusher` per
subscription does what Pub/Sub push does between pull and acknowledgement.

Which part is whose:

- The emulator stores the messages, leases each pulled message for the ack deadline, takes it
  back when a lease runs out without an ack (redelivering it with `delivery_attempt` + 1), and
  keeps the subscription's policies, which `customerio-gcp status` reads.
- The pusher (this module), with the settings it reads from the subscription itself:
  - pulls with the subscription's ack deadline and keeps at most `concurrency` push requests in
    flight (16 by default, like a busy push subscription);
  - POSTs the body Pub/Sub push sends: `message` (`data` base64, `attributes`, `messageId` /
    `message_id`, `publishTime` / `publish_time`), `subscription`, and `deliveryAttempt` (sent
    by Pub/Sub when the subscription has a dead-letter policy), with a request timeout equal to
    the ack deadline;
  - acknowledges on 102, 200, 201, 202 or 204 (what Pub/Sub push counts as success); any other
    status, a timeout or a refused connection (a crashed or restarting function) is a failed
    attempt;
  - retries a failed attempt after exponential backoff, `minimum * 2**(attempt - 1)` capped at
    the maximum, holding the lease meanwhile (`modify_ack_deadline` to the backoff plus the ack
    deadline). The emulator's backoff is not used: measured on it, a nack is redelivered at once
    for the first two retries and after 4-5 s later whatever the policy, and an expired lease
    gets its backoff on top, so neither gives Pub/Sub's timing;
  - after `max_delivery_attempts` failed attempts publishes the message (same data, attributes
    plus `CloudPubSubDeadLetterSourceSubscription`, `...SubscriptionProject`,
    `...DeliveryCount`, `...TopicPublishTime`, as Pub/Sub adds them) to the dead-letter topic and
    only then acknowledges it; a failed publish is retried, never dropped. The emulator's
    dead-letter policy does work on pull (it fills `delivery_attempt` and forwards with these
    attributes), but it only counts its own redeliveries, so leaving the dead-lettering to it
    would mean nacking to it and so taking its backoff timing. It stays on the subscription as a
    backstop: if the pusher loses a lease (it was stopped, say) the emulator redelivers with a
    higher `delivery_attempt`, the pusher continues the count from there, and a message the
    pusher never sees again is still forwarded by the emulator after the configured attempts.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import logging
import threading
import time
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from customerio_gcp_local.connections import ConnectionFailed, ThreadConnections

logger = logging.getLogger(__name__)

SUCCESS_STATUSES = frozenset({102, 200, 201, 202, 204})
"""What Pub/Sub push counts as an acknowledgement; every other answer is a failed attempt."""

DEFAULT_CONCURRENCY = 16
MAX_ACK_DEADLINE_S = 600  # Pub/Sub's ceiling for an ack deadline and for modify_ack_deadline
# Pub/Sub's defaults for a retry policy given without bounds.
DEFAULT_MINIMUM_BACKOFF_S = 10.0
DEFAULT_MAXIMUM_BACKOFF_S = 600.0


@dataclass(frozen=True)
class PushSettings:
    """The parts of a subscription that push delivery follows."""

    ack_deadline_s: int = 10
    minimum_backoff_s: float = 0.0  # both 0: no retry policy, Pub/Sub redelivers at once
    maximum_backoff_s: float = 0.0
    max_delivery_attempts: int = 0  # 0: no dead-letter policy, retried until retention expires
    dead_letter_topic: str | None = None

    @classmethod
    def of_subscription(cls, subscriber: Any, subscription: str) -> PushSettings:
        sub = subscriber.get_subscription(request={"subscription": subscription})
        minimum = maximum = 0.0
        if "retry_policy" in sub:
            retry = sub.retry_policy
            minimum = retry.minimum_backoff.total_seconds() if "minimum_backoff" in retry else DEFAULT_MINIMUM_BACKOFF_S
            maximum = retry.maximum_backoff.total_seconds() if "maximum_backoff" in retry else DEFAULT_MAXIMUM_BACKOFF_S
        dead_letter = sub.dead_letter_policy.dead_letter_topic or None
        return cls(
            ack_deadline_s=sub.ack_deadline_seconds or 10,
            minimum_backoff_s=minimum,
            maximum_backoff_s=maximum,
            max_delivery_attempts=(sub.dead_letter_policy.max_delivery_attempts or 5) if dead_letter else 0,
            dead_letter_topic=dead_letter,
        )

    def backoff_s(self, attempt: int) -> float:
        """The wait after failed attempt number `attempt` (1 for the first delivery)."""
        if self.maximum_backoff_s <= 0:
            return 0.0
        return float(min(self.maximum_backoff_s, self.minimum_backoff_s * 2 ** (attempt - 1)))


@dataclass
class _Delivery:
    ack_id: str
    message: Any  # google.pubsub_v1.PubsubMessage
    attempt: int  # the number of this attempt, from 1


class PullPusher:
    """Delivers `subscription` to `endpoint` as a push subscription would. `start()`, `stop()`."""

    def __init__(
        self,
        subscription: str,
        endpoint: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        settings: PushSettings | None = None,
    ) -> None:
        self.subscription = subscription
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.settings = settings
        self.counts: Counter[str] = Counter()  # attempts, acked, failed, dead_lettered
        self._stop = threading.Event()
        self._lock = threading.Condition()
        self._in_flight = 0
        self._retries: list[tuple[float, int, _Delivery]] = []  # a heap by due time
        self._sequence = itertools.count()
        self._attempts: dict[str, int] = {}  # message id -> attempts made, while the pusher holds it
        self._threads: list[threading.Thread] = []
        self._subscriber: Any = None
        self._publisher: Any = None
        self._pool: ThreadPoolExecutor | None = None
        self._http: ThreadConnections | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> PullPusher:
        from google.cloud import pubsub_v1

        self._subscriber = pubsub_v1.SubscriberClient()
        self._publisher = pubsub_v1.PublisherClient()
        if self.settings is None:
            self.settings = PushSettings.of_subscription(self._subscriber, self.subscription)
        # One keep-alive connection per request thread (connections.py: a shared httpx pool cost
        # more CPU per message than the function it pushed to).
        self._http = ThreadConnections(self.endpoint, timeout=float(self.settings.ack_deadline_s))
        name = self.subscription.rsplit("/", 1)[-1]
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"push-{name}")
        for target, role in ((self._pull_loop, "pull"), (self._retry_loop, "retry")):
            thread = threading.Thread(target=target, name=f"pusher-{role}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop pulling and retrying. Messages held for a retry go back to the emulator when their
        lease runs out; requests in flight finish (or fail) on their own."""
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._subscriber is not None:
            self._subscriber.close()

    @property
    def held(self) -> int:
        """Messages this pusher holds now: in flight or waiting for a retry."""
        with self._lock:
            return len(self._attempts)

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    # --- the loops ------------------------------------------------------------------------------

    def _take_slots(self, wanted: int) -> int:
        """Block until at least one request slot is free; take up to `wanted`. 0 when stopping."""
        with self._lock:
            while self._in_flight >= self.concurrency and not self._stop.is_set():
                self._lock.wait(0.5)
            if self._stop.is_set():
                return 0
            taken = min(wanted, self.concurrency - self._in_flight)
            self._in_flight += taken
            return taken

    def _free_slots(self, count: int) -> None:
        with self._lock:
            self._in_flight -= count
            self._lock.notify_all()

    def _pull_loop(self) -> None:
        settings = self.settings
        assert settings is not None
        while not self._stop.is_set():
            slots = self._take_slots(self.concurrency)
            if not slots:
                return
            try:
                with warnings.catch_warnings():
                    # Deprecated on the real service, honoured by the emulator: no long poll, so
                    # the loop notices `stop()` and free slots at once.
                    warnings.simplefilter("ignore", DeprecationWarning)
                    request = {"subscription": self.subscription, "max_messages": slots, "return_immediately": True}
                    received = list(self._subscriber.pull(request=request, timeout=10).received_messages)
            except Exception:  # the emulator is busy or going away: try again
                received = []
                self._stop.wait(0.2)
            self._free_slots(slots - len(received))
            if not received:
                self._stop.wait(0.1)  # idle: poll the emulator ten times a second
                continue
            for item in received:
                message_id = item.message.message_id
                with self._lock:
                    # The emulator's count, or ours when it took the message back from a lost lease.
                    attempt = max(item.delivery_attempt or 1, self._attempts.get(message_id, 0) + 1)
                    self._attempts[message_id] = attempt
                self._submit(_Delivery(item.ack_id, item.message, attempt))

    def _retry_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                while not self._stop.is_set() and (not self._retries or self._retries[0][0] > time.monotonic()):
                    wait = self._retries[0][0] - time.monotonic() if self._retries else 0.5
                    self._lock.wait(max(0.01, min(wait, 0.5)))
                if self._stop.is_set():
                    return
                _due, _n, delivery = heapq.heappop(self._retries)
            if not self._take_slots(1):
                return
            self._submit(delivery)

    def _submit(self, delivery: _Delivery) -> None:
        """Run one attempt on the pool; the caller has taken its request slot."""
        assert self._pool is not None
        try:
            self._pool.submit(self._attempt, delivery)
        except RuntimeError:  # the pool is shut down: stopping; the lease will lapse
            self._free_slots(1)

    # --- one attempt ------------------------------------------------------------------------------

    def push_body(self, delivery: _Delivery) -> dict[str, Any]:
        """The JSON body Pub/Sub push POSTs for this delivery."""
        message = delivery.message
        publish_time = message.publish_time.rfc3339()
        envelope: dict[str, Any] = {
            "messageId": message.message_id,
            "message_id": message.message_id,
            "publishTime": publish_time,
            "publish_time": publish_time,
        }
        if message.attributes:
            envelope["attributes"] = dict(message.attributes)
        if message.data:  # as Pub/Sub does, an empty body has no `data` field at all
            envelope["data"] = base64.b64encode(message.data).decode()
        if message.ordering_key:
            envelope["orderingKey"] = message.ordering_key
        body: dict[str, Any] = {"message": envelope, "subscription": self.subscription}
        assert self.settings is not None
        if self.settings.dead_letter_topic:
            body["deliveryAttempt"] = delivery.attempt
        return body

    def _attempt(self, delivery: _Delivery) -> None:
        try:
            ok = self._post(delivery)
        finally:
            self._free_slots(1)
        if self._stop.is_set():
            return  # not acked: the emulator takes the message back when its lease runs out
        if ok:
            self._settle(delivery, "acked")
        else:
            self._failed(delivery)

    def _post(self, delivery: _Delivery) -> bool:
        assert self._http is not None
        self._count("attempts")
        try:
            status = self._http.post_json(json.dumps(self.push_body(delivery)).encode())
        except ConnectionFailed:  # refused (a crashed or restarting function), reset, timed out
            return False
        return status in SUCCESS_STATUSES

    def _failed(self, delivery: _Delivery) -> None:
        settings = self.settings
        assert settings is not None
        self._count("failed")
        if settings.dead_letter_topic and delivery.attempt >= settings.max_delivery_attempts:
            if self._dead_letter(delivery):
                self._settle(delivery, "dead_lettered")
                return
            backoff = settings.backoff_s(delivery.attempt) or 1.0  # publish failed: try it again soon
        else:
            backoff = settings.backoff_s(delivery.attempt)
            delivery.attempt += 1
            with self._lock:
                self._attempts[delivery.message.message_id] = delivery.attempt
        self._hold(delivery, backoff)

    def _hold(self, delivery: _Delivery, backoff: float) -> None:
        """Keep the lease through the backoff and the next attempt, then retry."""
        settings = self.settings
        assert settings is not None
        lease = min(MAX_ACK_DEADLINE_S, int(backoff + 0.999) + settings.ack_deadline_s)
        try:
            self._subscriber.modify_ack_deadline(
                request={"subscription": self.subscription, "ack_ids": [delivery.ack_id], "ack_deadline_seconds": lease}
            )
        except Exception:  # the lease may lapse: then the emulator redelivers it, nothing is lost
            logger.warning("could not extend the lease of %s", delivery.message.message_id, exc_info=True)
        with self._lock:
            heapq.heappush(self._retries, (time.monotonic() + backoff, next(self._sequence), delivery))
            self._lock.notify_all()

    def _settle(self, delivery: _Delivery, outcome: str) -> None:
        for attempt in range(3):
            try:
                self._subscriber.acknowledge(request={"subscription": self.subscription, "ack_ids": [delivery.ack_id]})
                break
            except Exception:  # the lease lapses and the emulator redelivers: a duplicate, not a loss
                if attempt == 2:
                    logger.warning("could not acknowledge %s", delivery.message.message_id, exc_info=True)
                time.sleep(0.2)
        with self._lock:
            self._attempts.pop(delivery.message.message_id, None)
            self.counts[outcome] += 1

    def _dead_letter(self, delivery: _Delivery) -> bool:
        """Forward the message to the dead-letter topic as Pub/Sub does. False if that failed."""
        settings = self.settings
        assert settings is not None
        assert settings.dead_letter_topic
        message = delivery.message
        _, project, _, subscription_id = self.subscription.split("/", 3)
        published = message.publish_time
        attributes = {
            **message.attributes,
            "CloudPubSubDeadLetterSourceSubscription": subscription_id,
            "CloudPubSubDeadLetterSourceSubscriptionProject": project,
            "CloudPubSubDeadLetterSourceDeliveryCount": str(delivery.attempt),
            "CloudPubSubDeadLetterSourceTopicPublishTime": published.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{published.microsecond // 1000:03d}Z",
        }
        try:
            self._publisher.publish(settings.dead_letter_topic, message.data, **attributes).result(timeout=30)
        except Exception:
            logger.warning("could not dead-letter %s; retrying", message.message_id, exc_info=True)
            return False
        return True
