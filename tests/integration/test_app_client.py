"""Transactional sends and broadcast triggers through the real App client, against the sandbox."""

from __future__ import annotations

import base64

import pytest
from customerio_sandbox import SandboxControl
from pydantic import ValidationError

from customerio_gcp.customerio import AppClient, Identifiers, LimitExceededError, UnprocessableError
from customerio_gcp.customerio.app import BroadcastTrigger, EmailRequest, PushRequest, SmsRequest


def test_send_email_with_a_template(app: AppClient, control: SandboxControl) -> None:
    delivery = app.send_email(
        EmailRequest(
            transactional_message_id=7,
            to="ada@example.com",
            identifiers=Identifiers(id="u1"),
            message_data={"order": 42},
            disable_message_retention=True,
            send_to_unsubscribed=False,
        )
    )
    assert delivery.delivery_id.startswith("sandbox-delivery-")
    assert delivery.queued_at
    sent = control.deliveries()[0]["request"]
    assert sent == {
        "transactional_message_id": 7,
        "identifiers": {"id": "u1"},
        "message_data": {"order": 42},
        "disable_message_retention": True,
        "send_to_unsubscribed": False,
        "to": "ada@example.com",
    }
    assert control.requests("send_email")[0]["path"] == "/v1/send/email"


def test_send_inline_email_with_attachment(app: AppClient, control: SandboxControl) -> None:
    app.send_email(
        EmailRequest(
            to="ada@example.com",
            identifiers=Identifiers(email="ada@example.com"),
            body="<p>Hi</p>",
            subject="Welcome",
            from_="team@example.com",
            reply_to="help@example.com",
            attachments={"a.txt": base64.b64encode(b"hello").decode()},
        )
    )
    sent = control.deliveries()[0]["request"]
    assert sent["from"] == "team@example.com" and sent["body"] == "<p>Hi</p>" and "a.txt" in sent["attachments"]


def test_email_needs_a_template_or_inline_content() -> None:
    with pytest.raises(ValidationError, match="transactional_message_id"):
        EmailRequest(to="a@example.com", identifiers=Identifiers(id="u"), subject="only a subject")


def test_attachments_over_two_megabytes_are_refused_locally() -> None:
    big = base64.b64encode(b"x" * 1_600_000).decode()
    with pytest.raises(LimitExceededError, match="attachments"):
        EmailRequest(transactional_message_id=1, to="a@b.co", identifiers=Identifiers(id="u"), attachments={"f": big})


def test_push_and_sms(app: AppClient, control: SandboxControl) -> None:
    app.send_push(
        PushRequest(transactional_message_id=3, identifiers=Identifiers(id="u1"), title="Hi", sound="default")
    )
    app.send_sms(SmsRequest(transactional_message_id=4, identifiers=Identifiers(id="u1"), to="+15555550100"))
    channels = [d["channel"] for d in control.deliveries()]
    assert channels == ["push", "sms"]
    assert control.deliveries()[0]["request"]["sound"] == "default"


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ({}, {"data": {"promo": "x"}}),
        ({"ids": ["1", "2"]}, {"data": {"promo": "x"}, "ids": ["1", "2"], "id_ignore_missing": True}),
        (
            {"emails": ["a@example.com"]},
            {"data": {"promo": "x"}, "emails": ["a@example.com"], "id_ignore_missing": True},
        ),
        (
            {"per_user_data": [{"id": "1", "data": {"n": 1}}]},
            {"data": {"promo": "x"}, "per_user_data": [{"id": "1", "data": {"n": 1}}], "id_ignore_missing": True},
        ),
        (
            {"recipients": {"segment": {"id": 3}}},
            {"data": {"promo": "x"}, "recipients": {"segment": {"id": 3}}, "id_ignore_missing": True},
        ),
        (
            {"data_file_url": "https://example.com/users.json"},
            {"data": {"promo": "x"}, "data_file_url": "https://example.com/users.json", "id_ignore_missing": True},
        ),
    ],
)
def test_broadcast_trigger_every_audience_form(
    app: AppClient, control: SandboxControl, audience: dict, expected: dict
) -> None:
    flags = {"id_ignore_missing": True} if audience else {}
    trigger_id = app.trigger_broadcast(BroadcastTrigger(broadcast_id=12, data={"promo": "x"}, **audience, **flags))
    assert trigger_id == "1"
    recorded = control.triggers()[0]
    assert recorded["broadcast_id"] == 12
    assert recorded["request"] == expected
    assert control.requests("trigger_broadcast")[0]["path"] == "/v1/campaigns/12/triggers"


def test_broadcast_takes_one_audience_only() -> None:
    with pytest.raises(ValidationError, match="at most one audience"):
        BroadcastTrigger(broadcast_id=1, ids=["1"], emails=["a@example.com"])


def test_broadcast_audience_limit() -> None:
    with pytest.raises(LimitExceededError, match="broadcast ids"):
        BroadcastTrigger(broadcast_id=1, ids=[str(i) for i in range(10_001)])


def test_an_empty_recipients_filter_gets_the_documented_422(app: AppClient) -> None:
    """Built without validation to show what Customer.io (here the sandbox) answers."""
    trigger = BroadcastTrigger.model_construct(broadcast_id=5, recipients={})
    with pytest.raises(UnprocessableError) as caught:
        app.trigger_broadcast(trigger)
    assert caught.value.status == 422
    assert "recipients" in caught.value.reason
