"""Every error class, from real HTTP answers of the sandbox (its fault injection) or a dead port."""

from __future__ import annotations

import httpx
import pytest
from customerio_gcp_local.processes import free_port
from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp.customerio import (
    AppClient,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConnectionFailedError,
    ForbiddenError,
    Identifiers,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TrackClient,
    UnprocessableError,
)
from customerio_gcp.customerio.app import EmailRequest
from customerio_gcp.customerio.transport import RetryPolicy

WHO = Identifiers(id="u1")


class Sleeps(list[float]):
    """Records the waits the retry policy asked for, instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def track_client(sandbox: Sandbox, sleeps: Sleeps, attempts: int = 3, **kw) -> TrackClient:
    c = sandbox.credentials
    policy = RetryPolicy(attempts=attempts, sleep=sleeps)
    return TrackClient.with_credentials(c.site_id, c.track_api_key, base_url=sandbox.url, retry=policy, **kw)


def app_client(sandbox: Sandbox, sleeps: Sleeps, attempts: int = 3, **kw) -> AppClient:
    return AppClient.with_key(
        sandbox.credentials.app_api_key, base_url=sandbox.url, retry=RetryPolicy(attempts=attempts, sleep=sleeps), **kw
    )


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, BadRequestError),
        (404, NotFoundError),
        (405, NotFoundError),
        (422, UnprocessableError),
    ],
)
def test_permanent_statuses_are_not_retried(
    sandbox: Sandbox, control: SandboxControl, status: int, error_type: type
) -> None:
    control.set_faults({"scripted": [{"status": status, "count": 5}]})
    sleeps = Sleeps()
    with pytest.raises(error_type) as caught:
        track_client(sandbox, sleeps).identify(WHO, {"a": 1})
    assert caught.value.status == status
    assert not caught.value.retryable
    assert isinstance(caught.value, PermanentError)
    assert len(control.requests()) == 1 and sleeps == []


def test_403_is_a_configuration_error_that_waits_for_a_fix(sandbox: Sandbox, control: SandboxControl) -> None:
    """A workspace that may not send, or an IP allow-list: not the message's fault. Transient, so
    Pub/Sub keeps the stream instead of dead-lettering it, but not retried in-process after the
    one credential re-fetch (it will not fix itself in a second)."""
    control.set_faults({"scripted": [{"status": 403, "count": 5}]})
    sleeps = Sleeps()
    with pytest.raises(ForbiddenError) as caught:
        track_client(sandbox, sleeps).identify(WHO, {"a": 1})
    assert caught.value.retryable and isinstance(caught.value, ConfigurationError)
    assert [r["status"] for r in control.requests()] == [403, 403] and sleeps == []


def test_wrong_key_gives_authentication_error_with_a_plain_text_body(sandbox: Sandbox, control: SandboxControl) -> None:
    client = TrackClient.with_credentials(sandbox.credentials.site_id, "wrong", base_url=sandbox.url)
    with pytest.raises(AuthenticationError) as caught:
        client.identify(WHO, {"a": 1})
    assert caught.value.reason == "Unauthorized"  # the sandbox answers text/plain, like Customer.io
    # One refresh-and-retry (the fixed credentials cannot change), then the error.
    assert [r["status"] for r in control.requests()] == [401, 401]


def test_app_api_401_json_body(sandbox: Sandbox) -> None:
    client = AppClient.with_key("wrong", base_url=sandbox.url)
    with pytest.raises(AuthenticationError, match="Unauthorized request"):
        client.send_email(EmailRequest(transactional_message_id=1, to="a@example.com", identifiers=WHO))


def test_429_honours_retry_after_then_succeeds(sandbox: Sandbox, control: SandboxControl) -> None:
    control.set_faults({"scripted": [{"status": 429, "count": 2, "retry_after": 1.5}]})
    sleeps = Sleeps()
    track_client(sandbox, sleeps).identify(WHO, {"a": 1})
    assert sleeps == [1.5, 1.5]
    assert [r["status"] for r in control.requests()] == [429, 429, 200]


def test_429_without_retry_after_backs_off_with_jitter(sandbox: Sandbox, control: SandboxControl) -> None:
    control.set_faults({"scripted": [{"status": 429, "count": 1}]})
    sleeps = Sleeps()
    track_client(sandbox, sleeps).identify(WHO, {"a": 1})
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.2


def test_429_with_a_retry_after_too_long_to_wait_is_raised_with_it(sandbox: Sandbox, control: SandboxControl) -> None:
    control.set_faults({"scripted": [{"status": 429, "count": 1, "retry_after": 120}]})
    sleeps = Sleeps()
    with pytest.raises(RateLimitedError) as caught:
        track_client(sandbox, sleeps).identify(WHO, {"a": 1})
    assert caught.value.retry_after == 120 and caught.value.retryable and sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503, 504, 522, 524])
def test_5xx_are_transient_and_retried_for_idempotent_calls(
    sandbox: Sandbox, control: SandboxControl, status: int
) -> None:
    control.set_faults({"scripted": [{"status": status, "count": 3, "text": "<html>origin error</html>"}]})
    with pytest.raises(ServerError) as caught:
        track_client(sandbox, Sleeps()).identify(WHO, {"a": 1})
    assert caught.value.status == status and caught.value.retryable
    assert caught.value.reason == "<html>origin error</html>"  # a non-JSON body, kept short
    assert len(control.requests()) == 3


def test_a_transactional_send_is_not_repeated_after_a_5xx(sandbox: Sandbox, control: SandboxControl) -> None:
    """A 500 may come after Customer.io queued the email: the client must not send it again."""
    control.set_faults({"scripted": [{"status": 500, "count": 1}]})
    with pytest.raises(ServerError) as caught:
        app_client(sandbox, Sleeps()).send_email(
            EmailRequest(transactional_message_id=1, to="a@example.com", identifiers=WHO)
        )
    assert caught.value.maybe_applied
    assert len(control.requests("send_email")) == 1


def test_a_transactional_send_is_retried_after_a_503(sandbox: Sandbox, control: SandboxControl) -> None:
    """503: the server would not take the request, so nothing was sent and repeating is safe."""
    control.set_faults({"scripted": [{"status": 503, "count": 1}]})
    delivery = app_client(sandbox, Sleeps()).send_email(
        EmailRequest(transactional_message_id=1, to="a@example.com", identifiers=WHO)
    )
    assert delivery.delivery_id
    assert [r["status"] for r in control.requests("send_email")] == [503, 200]


def test_a_transactional_send_is_retried_after_a_429(sandbox: Sandbox, control: SandboxControl) -> None:
    """A 429 means nothing was done, so repeating the send is safe."""
    control.set_faults({"scripted": [{"status": 429, "count": 1, "retry_after": 0}]})
    delivery = app_client(sandbox, Sleeps()).send_email(
        EmailRequest(transactional_message_id=1, to="a@example.com", identifiers=WHO)
    )
    assert delivery.delivery_id
    assert [r["status"] for r in control.requests("send_email")] == [429, 200]


def test_408_is_a_request_timeout(sandbox: Sandbox, control: SandboxControl) -> None:
    control.set_faults({"scripted": [{"status": 408, "count": 1}]})
    with pytest.raises(RequestTimeoutError):
        track_client(sandbox, Sleeps(), attempts=1).identify(WHO, {"a": 1})


def test_a_slow_answer_past_the_timeout(sandbox: Sandbox, control: SandboxControl) -> None:
    control.set_faults({"slow_rate": 1.0, "slow_seconds": 1.0})
    client = track_client(sandbox, Sleeps(), attempts=1, timeout=httpx.Timeout(0.2, connect=1.0))
    with pytest.raises(RequestTimeoutError) as caught:
        client.identify(WHO, {"a": 1})
    assert caught.value.maybe_applied and caught.value.retryable


def test_connection_refused_is_transient_and_known_not_applied() -> None:
    client = TrackClient.with_credentials(
        "s", "k", base_url=f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(attempts=2, sleep=Sleeps())
    )
    with pytest.raises(ConnectionFailedError) as caught:
        client.identify(WHO, {"a": 1})
    assert caught.value.retryable and not caught.value.maybe_applied


def test_error_texts_from_customerio_are_redacted(sandbox: Sandbox, control: SandboxControl) -> None:
    control.set_faults(
        {"scripted": [{"status": 400, "text": "email ada.lovelace@example.com is invalid, phone +1 (555) 555-0100"}]}
    )
    with pytest.raises(BadRequestError) as caught:
        track_client(sandbox, Sleeps()).identify(WHO, {"a": 1})
    assert str(caught.value) == "HTTP 400: email <email> is invalid, phone <number>"
