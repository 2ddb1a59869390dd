"""User sync rules: how an application's user record becomes Customer.io operations.

The rules are a pure function (`plan`) so the three ways of syncing — directly through the
service, by publishing to the identify topic, and the bulk v2 backfill — cannot drift apart:

- opted out of all messaging -> suppress;
- deleted -> one delete that suppresses first (one message, so the two can never arrive in the
  wrong order; the deletion's tombstone keeps older messages from bringing the person back);
- otherwise -> identify with the mapped attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.messages.models import DeletePerson, IdentifyPerson, SuppressPerson
from customerio_gcp.service import MessagingService

PersonMessage = IdentifyPerson | SuppressPerson | DeletePerson


@dataclass(frozen=True)
class User:
    """An application user as the sync sees it. `updated_at` (unix seconds) is sent as the
    identify timestamp, so a replayed or backfilled update never looks newer than it is."""

    id: str
    email: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    opted_out: bool = False
    deleted: bool = False
    created_at: int | None = None
    updated_at: int | None = None

    @property
    def identifiers(self) -> Identifiers:
        return Identifiers(id=self.id)

    def customer_attributes(self) -> dict[str, Any]:
        mapped: dict[str, Any] = dict(self.attributes)
        if self.email:
            mapped["email"] = self.email
        if self.created_at is not None:
            mapped["created_at"] = self.created_at
        return mapped


def plan(user: User) -> list[PersonMessage]:
    """The messages that bring Customer.io in line with `user`, in the order to apply them."""
    if user.deleted:
        return [DeletePerson(identifiers=user.identifiers, suppress=True, timestamp=user.updated_at)]
    if user.opted_out:
        return [SuppressPerson(identifiers=user.identifiers)]
    return [
        IdentifyPerson(identifiers=user.identifiers, attributes=user.customer_attributes(), timestamp=user.updated_at)
    ]


class UserMessagingRepository:
    """Applies `plan` through the messaging service, synchronously."""

    def __init__(self, service: MessagingService) -> None:
        self._service = service

    def sync(self, user: User) -> list[str]:
        """Sync one user; returns the operations performed, in order."""
        done: list[str] = []
        for message in plan(user):
            self._service.handle(message)
            done.append(message.op)
        return done
