"""Holding and giving back pulled Pub/Sub messages, for the commands that read a subscription
without consuming it (`dlq`, `webhooks reprocess`): one request shape, at most 1,000 ack ids per
request (Pub/Sub takes a few thousand; 1,000 stays well inside its request size)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

LEASE_S = 600
"""Pub/Sub's longest ack deadline: what a command pulled stays its own while it reads the rest."""


def set_deadline(subscriber: Any, subscription: str, ack_ids: Sequence[str], seconds: int) -> None:
    """Hold the messages `seconds` longer (`LEASE_S`), or give them back at once (0)."""
    for chunk in chunks(ack_ids):
        subscriber.modify_ack_deadline(
            request={"subscription": subscription, "ack_ids": chunk, "ack_deadline_seconds": seconds}
        )


def acknowledge(subscriber: Any, subscription: str, ack_ids: Sequence[str]) -> None:
    for chunk in chunks(ack_ids):
        subscriber.acknowledge(request={"subscription": subscription, "ack_ids": chunk})


def chunks(ack_ids: Sequence[str], size: int = 1000) -> Iterator[list[str]]:
    for start in range(0, len(ack_ids), size):
        yield list(ack_ids[start : start + size])
