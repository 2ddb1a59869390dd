"""App API client: transactional email, push and SMS, and API-triggered broadcasts.

None of these calls is idempotent at Customer.io, so the client never repeats one that may have
been applied (see `transport.HttpCaller`); de-duplication across deliveries is the idempotency
guard's job (`customerio_gcp.idempotency`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from customerio_gcp.customerio.identifiers import Identifiers
from customerio_gcp.customerio.limits import (
    BROADCAST_AUDIENCES,
    check_attachments,
    check_broadcast_audience,
    check_email_content,
)
from customerio_gcp.customerio.transport import ApiClient


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class TransactionalRequest(_Request):
    """Fields every transactional send shares."""

    transactional_message_id: int | str | None = None
    identifiers: Identifiers
    message_data: dict[str, Any] | None = None
    send_at: int | None = None
    disable_message_retention: bool | None = None
    send_to_unsubscribed: bool | None = None
    queue_draft: bool | None = None


class EmailRequest(TransactionalRequest):
    """`POST /v1/send/email`: a template (`transactional_message_id`) or inline body+subject+from."""

    to: str = Field(min_length=1)
    body_html: str | None = Field(default=None, alias="body")
    subject: str | None = None
    from_: str | None = Field(default=None, alias="from")
    reply_to: str | None = None
    bcc: str | None = None
    tracked: bool | None = None
    attachments: dict[str, str] | None = None

    @model_validator(mode="after")
    def _template_or_inline(self) -> EmailRequest:
        check_email_content(self.transactional_message_id, self.body_html, self.subject, self.from_)
        return self

    @field_validator("attachments")
    @classmethod
    def _attachments_size(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        check_attachments(value)
        return value


class PushRequest(TransactionalRequest):
    """`POST /v1/send/push`. Push options beyond these pass through unchanged."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    to: str | None = None
    title: str | None = None
    message: str | None = None
    image_url: str | None = None
    link: str | None = None
    custom_data: dict[str, Any] | None = None


class SmsRequest(TransactionalRequest):
    """`POST /v1/send/sms`."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    to: str | None = None


class BroadcastTrigger(_Request):
    """`POST /v1/campaigns/{broadcast_id}/triggers` with at most one audience form."""

    broadcast_id: int = Field(gt=0)
    data: dict[str, Any] | None = None
    recipients: dict[str, Any] | None = None
    emails: list[str] | None = None
    ids: list[str] | None = None
    per_user_data: list[dict[str, Any]] | None = None
    data_file_url: str | None = None
    id_ignore_missing: bool | None = None
    email_ignore_missing: bool | None = None
    email_add_duplicates: bool | None = None

    @model_validator(mode="after")
    def _one_audience(self) -> BroadcastTrigger:
        check_broadcast_audience({name: getattr(self, name) for name in BROADCAST_AUDIENCES})
        return self

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude={"broadcast_id"})


class Delivery(BaseModel):
    """What a transactional send answers."""

    model_config = ConfigDict(defer_build=True)

    delivery_id: str
    queued_at: int | None = None


class AppClient(ApiClient):
    api = "app"

    @classmethod
    def with_key(cls, app_api_key: str, **kwargs: Any) -> AppClient:
        bearer = BearerAuth(app_api_key)
        return cls(lambda _stale_since: bearer, **kwargs)

    def send_email(self, request: EmailRequest) -> Delivery:
        return self._send("/v1/send/email", request)

    def send_push(self, request: PushRequest) -> Delivery:
        return self._send("/v1/send/push", request)

    def send_sms(self, request: SmsRequest) -> Delivery:
        return self._send("/v1/send/sms", request)

    def trigger_broadcast(self, trigger: BroadcastTrigger) -> str:
        """Returns the trigger id. Customer.io queues at most 5 triggers per broadcast."""
        path = f"/v1/campaigns/{trigger.broadcast_id}/triggers"
        answer = self._http.request("POST", path, json=trigger.body(), idempotent=False).json()
        return str(answer.get("id", "")) if isinstance(answer, dict) else ""

    def _send(self, path: str, request: TransactionalRequest) -> Delivery:
        response = self._http.request("POST", path, json=request.body(), idempotent=False)
        return Delivery.model_validate(response.json())


class BearerAuth(httpx.Auth):
    """`Authorization: Bearer <app_api_key>`, as the App API asks."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request
