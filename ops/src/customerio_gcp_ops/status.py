"""What the pipeline looks like now: per topic, the push subscription's settings, its backlog and
oldest unacknowledged message, dead letters waiting, and the last hour's delivered/failed counts;
the same for the webhook events topic's BigQuery and routing subscriptions (no function counts:
no function of ours reads them).

Backlog, age and counts come from Cloud Monitoring when it is reachable (real Google Cloud); the
emulators expose none of it, so there the status shows configuration and dead letters only.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from customerio_gcp.pipeline import TOPIC_KINDS
from customerio_gcp_ops.dead_letters import leased
from customerio_gcp_ops.names import Paths


@dataclass
class TopicStatus:
    kind: str
    topic_exists: bool
    access: bool = True
    subscription_exists: bool = True
    push_endpoint: str | None = None
    max_delivery_attempts: int | None = None
    backoff: str | None = None
    dead_letters: int | None = None
    backlog: int | None = None
    oldest_unacked_s: float | None = None
    delivered_last_hour: int | None = None
    failed_last_hour: int | None = None


def collect(
    paths: dict[str, Paths], publisher: Any, subscriber: Any, monitoring: Any | None, project: str, *, emulator: bool
) -> list[TopicStatus]:
    from google.api_core.exceptions import GoogleAPICallError, NotFound, PermissionDenied

    statuses = []
    for kind, p in paths.items():
        status = TopicStatus(kind, topic_exists=True)
        try:
            publisher.get_topic(request={"topic": p.topic})
        except NotFound:
            status.topic_exists = False
            statuses.append(status)
            continue
        except PermissionDenied:  # an operator's rights may stop at the three pipeline topics
            status.access = False
            statuses.append(status)
            continue
        try:
            sub = subscriber.get_subscription(request={"subscription": p.push_subscription})
            table = sub.bigquery_config.table
            status.push_endpoint = sub.push_config.push_endpoint or (f"bigquery:{table}" if table else None)
            status.max_delivery_attempts = sub.dead_letter_policy.max_delivery_attempts or None
            if "retry_policy" in sub:  # without one, Pub/Sub redelivers at once: no backoff to show
                retry = sub.retry_policy
                status.backoff = (
                    f"{retry.minimum_backoff.total_seconds():g}s–{retry.maximum_backoff.total_seconds():g}s"
                )
        except NotFound:
            status.subscription_exists = False
        except PermissionDenied:
            pass
        try:
            with leased(subscriber, [p], limit=10_000, emulator=emulator) as letters:
                status.dead_letters = len(letters.letters)
        except (NotFound, PermissionDenied):
            status.dead_letters = None
        if monitoring is not None:
            with contextlib.suppress(GoogleAPICallError):  # no monitoring.viewer, or the API off: n/a
                _from_monitoring(status, monitoring, project, p, function_counts=kind in TOPIC_KINDS)
        statuses.append(status)
    return statuses


def _from_monitoring(status: TopicStatus, client: Any, project: str, paths: Paths, *, function_counts: bool) -> None:
    from google.cloud import monitoring_v3

    now = time.time()
    interval = monitoring_v3.TimeInterval(end_time={"seconds": int(now)}, start_time={"seconds": int(now - 3600)})
    subscription_id = paths.push_subscription.rsplit("/", 1)[1]

    def series(metric_filter: str) -> Any:
        return client.list_time_series(
            request={
                "name": f"projects/{project}",
                "filter": metric_filter,
                "interval": interval,
                "view": monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
            }
        )

    def latest(metric: str) -> float | None:
        for item in series(f'metric.type="{metric}" AND resource.labels.subscription_id="{subscription_id}"'):
            for point in item.points:
                return float(point.value.int64_value or point.value.double_value)
        return None

    def total(metric: str, extra: str) -> int:
        count = 0
        for item in series(f'metric.type="{metric}" AND metric.labels.function="{status.kind}"{extra}'):
            for point in item.points:
                count += int(point.value.int64_value or point.value.distribution_value.count)
        return count

    backlog = latest("pubsub.googleapis.com/subscription/num_undelivered_messages")
    status.backlog = int(backlog) if backlog is not None else None
    status.oldest_unacked_s = latest("pubsub.googleapis.com/subscription/oldest_unacked_message_age")
    if not function_counts:
        return
    status.delivered_last_hour = total(
        "logging.googleapis.com/user/customerio/operation_latency", ' AND metric.labels.outcome="success"'
    )
    status.failed_last_hour = total("logging.googleapis.com/user/customerio/operation_errors", "")
