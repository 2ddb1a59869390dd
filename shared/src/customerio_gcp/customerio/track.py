"""Track API client (v1 person and event calls, v2 entity and batch).

Every call checks the documented limits first, URL-encodes identifiers, and raises the errors of
`customerio_gcp.customerio.errors`. One instance is meant to live for the whole process so its
connection pool is reused across function invocations; it is safe to share between threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from customerio_gcp.customerio import v2
from customerio_gcp.customerio.batching import Chunk, Rejected, pack, parse_207
from customerio_gcp.customerio.errors import (
    BadRequestError,
    BatchItemFailure,
    PermanentError,
    ServerError,
)
from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.customerio.limits import (
    check_attributes,
    check_event,
    check_identifier,
    check_v2_operation,
)
from customerio_gcp.customerio.transport import ApiClient

EventType = Literal["event", "page", "screen"]
Platform = Literal["ios", "android"]


@dataclass
class BatchResult:
    """What happened to a v2 batch: how many requests it took and which items failed.

    `failures` carry the caller's indices (0-based positions in the list given to `batch`).
    """

    total: int = 0
    requests: int = 0
    failures: list[BatchItemFailure] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.total - len(self.failures)


class TrackClient(ApiClient):
    api = "track"

    @classmethod
    def with_credentials(cls, site_id: str, api_key: str, **kwargs: Any) -> TrackClient:
        """For scripts with fixed credentials; the functions pass a refreshing factory instead."""
        basic = httpx.BasicAuth(site_id, api_key)
        return cls(lambda _stale_since: basic, **kwargs)

    # --- people -----------------------------------------------------------------------------

    def identify(
        self,
        identifiers: Identifiers,
        attributes: Mapping[str, Any],
        *,
        timestamp: int | None = None,
        update_only: bool = False,
    ) -> None:
        """Create or update a person. `update_only` sends `_update: true` (never create)."""
        check_attributes(attributes)
        body = dict(attributes)
        if timestamp is not None:
            body["_timestamp"] = timestamp
        if update_only:
            body["_update"] = True
        self._http.request("PUT", self._person(identifiers), json=body, idempotent=True)

    def delete(self, identifiers: Identifiers) -> None:
        self._http.request("DELETE", self._person(identifiers), idempotent=True)

    def suppress(self, identifiers: Identifiers) -> None:
        self._http.request("POST", self._person(identifiers) + "/suppress", idempotent=True)

    def unsuppress(self, identifiers: Identifiers) -> None:
        self._http.request("POST", self._person(identifiers) + "/unsuppress", idempotent=True)

    def add_device(
        self,
        identifiers: Identifiers,
        device_id: str,
        platform: Platform,
        *,
        last_used: int | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        device: dict[str, Any] = {"id": device_id, "platform": platform}
        if last_used is not None:
            device["last_used"] = last_used
        if attributes:
            check_attributes(attributes)
            device["attributes"] = dict(attributes)
        self._http.request("PUT", self._person(identifiers) + "/devices", json={"device": device}, idempotent=True)

    def remove_device(self, identifiers: Identifiers, device_id: str) -> None:
        path = self._person(identifiers) + "/devices/" + quote(device_id, safe="")
        self._http.request("DELETE", path, idempotent=True)

    def merge(self, primary: Identifiers, secondary: Identifiers) -> None:
        """Merge `secondary` into `primary` (which must exist). Phone is not accepted here."""
        if "phone" in (primary.kind, secondary.kind):
            raise BadRequestError("merge takes id, email or cio_id, not phone")
        body = {"primary": primary.as_body(), "secondary": secondary.as_body()}
        # Replaying a merge whose secondary is already gone fails harmlessly: treat as idempotent.
        self._http.request("POST", "/api/v1/merge_customers", json=body, idempotent=True)

    # --- events -----------------------------------------------------------------------------

    def track(
        self,
        identifiers: Identifiers,
        name: str,
        data: Mapping[str, Any] | None = None,
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
        event_type: EventType = "event",
    ) -> None:
        """Send an event. With a ULID `event_id`, Customer.io ignores a repeat, so retries are safe."""
        check_event(name, data)
        body: dict[str, Any] = {"name": name, "data": dict(data or {})}
        if event_type != "event":
            body["type"] = event_type
        if event_id is not None:
            body["id"] = event_id
        if timestamp is not None:
            body["timestamp"] = timestamp
        self._http.request("POST", self._person(identifiers) + "/events", json=body, idempotent=event_id is not None)

    def page(self, identifiers: Identifiers, url: str, data: Mapping[str, Any] | None = None, **kw: Any) -> None:
        self.track(identifiers, url, data, event_type="page", **kw)

    def screen(self, identifiers: Identifiers, name: str, data: Mapping[str, Any] | None = None, **kw: Any) -> None:
        self.track(identifiers, name, data, event_type="screen", **kw)

    def track_anonymous(
        self,
        anonymous_id: str,
        name: str,
        data: Mapping[str, Any] | None = None,
        *,
        event_id: str | None = None,
        timestamp: int | None = None,
    ) -> None:
        check_identifier(anonymous_id)
        check_event(name, data)
        body: dict[str, Any] = {"name": name, "anonymous_id": anonymous_id, "data": dict(data or {})}
        if event_id is not None:
            body["id"] = event_id
        if timestamp is not None:
            body["timestamp"] = timestamp
        self._http.request("POST", "/api/v1/events", json=body, idempotent=event_id is not None)

    # --- account ----------------------------------------------------------------------------

    def region(self) -> dict[str, Any]:
        """`{url, region, environment_id}`: a cheap credentials check at start-up."""
        answer: dict[str, Any] = self._http.request("GET", "/api/v1/accounts/region", idempotent=True).json()
        return answer

    # --- v2 ---------------------------------------------------------------------------------

    def entity(self, operation: v2.Operation) -> None:
        check_v2_operation(operation)
        self._http.request("POST", "/api/v2/entity", json=operation, idempotent=_is_idempotent(operation))

    def batch(self, operations: Iterable[v2.Operation]) -> BatchResult:
        """Send any number of operations in as few requests as the size limits allow.

        Items that break a limit, items a 207 refuses and every item of a request answered 400
        end up in `failures`; a transient error (after retries) propagates, since the caller must
        decide whether to resume — `send_chunk` and `pack` let it resume at chunk granularity.
        """
        result = BatchResult()
        for part in pack(operations):
            if isinstance(part, Rejected):
                result.total += 1
                result.failures.append(part.as_failure())
                continue
            result.total += len(part.indices)
            result.requests += 1
            result.failures.extend(self.send_chunk(part))
        return result

    def send_chunk(self, chunk: Chunk) -> list[BatchItemFailure]:
        """Send one packed request; return its refused items with the caller's indices."""
        try:
            failures = self.post_batch(chunk.operations)
        except PermanentError as exc:
            if exc.status != 400:
                raise
            return [BatchItemFailure(i, "request rejected", None, exc.reason) for i in chunk.indices]
        return [chunk.map_failure(f) for f in failures]

    def post_batch(self, operations: Sequence[v2.Operation]) -> list[BatchItemFailure]:
        """POST one `/api/v2/batch` request as it is (the caller keeps it under the size limits).

        Returns the items a 207 refused, with their 0-based positions in `operations`; a 400 for
        the whole request raises `BadRequestError`, and every other failure its own error.
        """
        response = self._http.request(
            "POST",
            "/api/v2/batch",
            json={"batch": list(operations)},
            idempotent=all(_is_idempotent(op) for op in operations),
            allow_status=(207,),
        )
        if response.status_code != 207:
            return []
        try:
            body = response.json()
        except ValueError:
            body = None
        failures = list(parse_207(body))
        if not failures or any(not 0 <= f.index < len(operations) for f in failures):
            # Some item was refused and we cannot tell which: none may pass for accepted. A
            # transient error: the operations are retried (Pub/Sub redelivers each message).
            raise ServerError("207 without item errors it can be matched to", status=207, maybe_applied=True)
        return failures

    @staticmethod
    def _person(identifiers: Identifiers) -> str:
        return "/api/v1/customers/" + identifiers.path_segment()


def _is_idempotent(operation: Mapping[str, Any]) -> bool:
    """Events are idempotent only with an id; every other person action is a set-state call."""
    if operation.get("action") in ("event", "page", "screen"):
        return bool(operation.get("id"))
    return True
