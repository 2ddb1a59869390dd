"""Builders for Track API v2 operations (`/api/v2/entity` and `/api/v2/batch` items).

Each builder checks the same documented limits as the v1 calls, so a batch item fails here, with
the limit named, instead of coming back in a 207.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.customerio.limits import check_attributes, check_event

Operation = dict[str, Any]


def _person(identifiers: Identifiers, action: str, **fields: Any) -> Operation:
    op: Operation = {"type": "person", "identifiers": identifiers.as_body(), "action": action}
    op.update({k: v for k, v in fields.items() if v is not None})
    return op


def identify(identifiers: Identifiers, attributes: Mapping[str, Any], *, timestamp: int | None = None) -> Operation:
    """An identify. Carry an honest `timestamp`: v2 silently ignores one older than the profile."""
    check_attributes(attributes)
    return _person(identifiers, "identify", attributes=dict(attributes), timestamp=timestamp)


def event(
    identifiers: Identifiers,
    name: str,
    data: Mapping[str, Any] | None = None,
    *,
    event_id: str | None = None,
    timestamp: int | None = None,
    kind: str = "event",
) -> Operation:
    """An event, page or screen (`kind`); the event data goes under `attributes` in v2."""
    check_event(name, data)
    return _person(
        identifiers, kind, name=name, id=event_id, timestamp=timestamp, attributes=dict(data) if data else None
    )


def suppress(identifiers: Identifiers) -> Operation:
    return _person(identifiers, "suppress")


def unsuppress(identifiers: Identifiers) -> Operation:
    return _person(identifiers, "unsuppress")


def delete(identifiers: Identifiers) -> Operation:
    return _person(identifiers, "delete")


def add_device(
    identifiers: Identifiers,
    token: str,
    platform: str,
    *,
    last_used: int | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Operation:
    """A device for push. v2 names the device's id `token` (v1 calls it `id`)."""
    device: dict[str, Any] = {"token": token, "platform": platform}
    if last_used is not None:
        device["last_used"] = last_used
    if attributes:
        check_attributes(attributes)
        device["attributes"] = dict(attributes)
    return _person(identifiers, "add_device", device=device)


def delete_device(identifiers: Identifiers, token: str) -> Operation:
    return _person(identifiers, "delete_device", device={"token": token})
