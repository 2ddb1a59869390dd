"""`status` against what a real project may answer and the emulator never does: an operator whose
rights stop at the three pipeline topics, and Cloud Monitoring refusing the query. The rest of
the status is still shown."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from customerio_gcp_ops.names import dead_letter_paths
from customerio_gcp_ops.status import collect
from google.api_core.exceptions import DeadlineExceeded, PermissionDenied


class FakePublisher:
    def get_topic(self, request: dict[str, Any]) -> Any:
        if "webhook" in request["topic"]:
            raise PermissionDenied("pubsub.topics.get")
        return SimpleNamespace(name=request["topic"])


class FakeSubscriber:
    def get_subscription(self, request: dict[str, Any]) -> Any:
        from google.cloud.pubsub_v1.types import Subscription

        return Subscription(
            name=request["subscription"],
            push_config={"push_endpoint": "https://fn.a.run.app"},
            dead_letter_policy={"max_delivery_attempts": 100},
        )

    def pull(self, request: dict[str, Any], timeout: float) -> Any:
        raise DeadlineExceeded("nothing waiting")


class RefusingMonitoring:
    def list_time_series(self, request: dict[str, Any]) -> Any:
        raise PermissionDenied("monitoring.timeSeries.list")


def test_no_access_to_the_webhook_topic_and_no_monitoring_still_show_the_pipeline() -> None:
    statuses = collect(dead_letter_paths("p"), FakePublisher(), FakeSubscriber(), RefusingMonitoring(), "p",
                       emulator=False)  # fmt: skip
    by_kind = {s.kind: s for s in statuses}
    assert [k for k, s in by_kind.items() if not s.access] == ["webhook-bigquery", "webhook-routing"]
    for kind in ("identify", "track", "transactional"):
        status = by_kind[kind]
        assert (status.push_endpoint, status.max_delivery_attempts, status.dead_letters) == (
            "https://fn.a.run.app",
            100,
            0,
        )
        assert status.backlog is None and status.delivered_last_hour is None  # monitoring refused: n/a
