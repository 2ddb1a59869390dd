"""Push delivery driven from a pull subscription, for long fault-heavy local runs.

Under sustained endpoint failures the Pub/Sub emulator's own push loop was seen to stop pushing
a subscription for good, with messages outstanding (never redelivered, never dead-lettered) —
something the real service does not do. The reliability suite therefore lets this pusher play
the push subscription: it pulls (the emulator's pull path, retry policy and dead-letter policy
are sound), POSTs the same push body Pub/Sub sends — with `deliveryAttempt` — to the function,
acknowledges on 2xx and nacks otherwise, so Pub/Sub's backoff and dead-lettering apply.
"""

from __future__ import annotations

import base64
import threading
import warnings
from typing import Any

import httpx


class PullPusher:
    def __init__(self, subscription: str, endpoint: str, *, threads: int = 8, timeout: float = 60.0) -> None:
        self.subscription = subscription
        self.endpoint = endpoint
        self._threads = threads
        self._timeout = timeout
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> PullPusher:
        for n in range(self._threads):
            worker = threading.Thread(target=self._run, name=f"pusher-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=10)

    def _run(self) -> None:
        from google.cloud import pubsub_v1

        subscriber = pubsub_v1.SubscriberClient()
        with httpx.Client(timeout=self._timeout) as http:
            while not self._stop.is_set():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    request = {"subscription": self.subscription, "max_messages": 1, "return_immediately": True}
                    try:
                        received = list(subscriber.pull(request=request, timeout=10).received_messages)
                    except Exception:  # the emulator is going away, or busy: try again
                        self._stop.wait(0.2)
                        continue
                if not received:
                    self._stop.wait(0.05)
                    continue
                for item in received:
                    self._deliver(subscriber, http, item)
        subscriber.close()

    def _deliver(self, subscriber: Any, http: httpx.Client, item: Any) -> None:
        message = item.message
        envelope: dict[str, Any] = {
            "attributes": dict(message.attributes),
            "messageId": message.message_id,
            "publishTime": message.publish_time.isoformat(),
        }
        if message.data:  # as Pub/Sub does, an empty body has no `data` field at all
            envelope["data"] = base64.b64encode(message.data).decode()
        body = {"message": envelope, "subscription": self.subscription, "deliveryAttempt": item.delivery_attempt}
        try:
            ok = http.post(self.endpoint, json=body).is_success
        except httpx.HTTPError:
            ok = False
        if ok:
            subscriber.acknowledge(request={"subscription": self.subscription, "ack_ids": [item.ack_id]})
        else:
            subscriber.modify_ack_deadline(
                request={"subscription": self.subscription, "ack_ids": [item.ack_id], "ack_deadline_seconds": 0}
            )
