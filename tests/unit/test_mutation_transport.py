"""Error classification and the HTTP transport's decisions that mutation testing (`make mutate`)
showed were missing. The transport runs with a real httpx client; only the network is replaced by
`httpx.MockTransport`, which answers what Customer.io would (a redirect, a 401, a reset...)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import httpx
import pytest

from customerio_gcp.customerio.errors import (
    AuthenticationError,
    ConnectionFailedError,
    NotFoundError,
    RateLimitedError,
    RegionMismatchError,
    RequestTimeoutError,
    ServerError,
    error_from_response,
)
from customerio_gcp.customerio.transport import HttpCaller, RetryPolicy, default_timeout
from customerio_gcp.errors import Verdict, classify

BASE = "https://track.customer.io/api/v1"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def caller(handler: Callable[[httpx.Request], httpx.Response], sleeps: Sleeps, attempts: int = 3) -> HttpCaller:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return HttpCaller(BASE, lambda _since: httpx.BasicAuth("site", "key"), client=client,
                      retry=RetryPolicy(attempts=attempts, sleep=sleeps))  # fmt: skip


# --- errors.classify and Error -------------------------------------------------------------------


def test_an_unforeseen_exception_is_retried_and_counts_as_maybe_applied() -> None:
    assert classify(KeyError("x")) == Verdict(True, True, "unexpected error", "KeyError", None)


def test_the_verdict_keeps_the_status_and_the_text_shows_it() -> None:
    error = NotFoundError("no such broadcast", status=404)
    assert classify(error) == Verdict(False, False, "no such broadcast", "NotFoundError", 404)
    assert str(error) == "HTTP 404: no such broadcast"
    assert str(NotFoundError("no such broadcast")) == "no such broadcast"


# --- customerio.errors.error_from_response -------------------------------------------------------


def test_without_a_body_the_reason_is_the_status_phrase_or_says_there_is_none() -> None:
    assert error_from_response(httpx.Response(502)).reason == "Bad Gateway"
    assert error_from_response(httpx.Response(599)).reason == "no error text"


def test_429_and_408_keep_the_reason_and_status() -> None:
    limited = error_from_response(httpx.Response(429, headers={"Retry-After": "7"}, content=b"slow down"))
    assert (type(limited), limited.reason, limited.status, limited.retry_after) == (
        RateLimitedError, "slow down", 429, 7.0,
    )  # fmt: skip
    timeout = error_from_response(httpx.Response(408, content=b"too slow"))
    assert (type(timeout), timeout.reason, timeout.status) == (RequestTimeoutError, "too slow", 408)


# --- RetryPolicy.delay -----------------------------------------------------------------------------


def test_retry_after_up_to_the_maximum_is_honoured() -> None:
    policy = RetryPolicy(max_retry_after=30.0)
    assert policy.delay(1, RateLimitedError("x", retry_after=30.0)) == 30.0
    assert policy.delay(1, RateLimitedError("x", retry_after=30.5)) is None


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 0.2), (2, 0.4), (3, 0.8), (4, 1.6), (5, 3.2), (7, 5.0)])
def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling(attempt: int, ceiling: float) -> None:
    """The same random draw, scaled by the ceiling: base 0.2 s doubling per attempt, at most 5 s."""
    policy = RetryPolicy(base_delay=0.2, max_delay=5.0)
    random.seed(attempt)
    wait = policy.delay(attempt, ServerError("x", status=500))
    random.seed(attempt)
    assert wait == pytest.approx(random.uniform(0, ceiling))


# --- transport._classify: a redirect is a region mismatch -----------------------------------------


def test_a_redirect_names_the_other_host() -> None:
    sleeps = Sleeps()
    moved = caller(lambda r: httpx.Response(301, headers={"Location": "https://track-eu.customer.io/x"}), sleeps)
    with pytest.raises(RegionMismatchError) as caught:
        moved.request("PUT", "/customers/1", json={}, idempotent=True)
    assert caught.value.status == 301
    assert caught.value.reason == "redirected to track-eu.customer.io: is the region setting right?"
    assert sleeps == []  # a configuration error waits for Pub/Sub's backoff, not ours

    nowhere = caller(lambda r: httpx.Response(302), sleeps)
    with pytest.raises(RegionMismatchError) as caught:
        nowhere.request("PUT", "/customers/1", json={}, idempotent=True)
    assert caught.value.reason == "redirected to another host: is the region setting right?"


# --- HttpCaller.request: 401 refresh, retries, what failed how ------------------------------------


class Answers:
    """Answers requests in order from a script of statuses (or exceptions to raise), recording them."""

    def __init__(self, *script: int | Exception) -> None:
        self.script = list(script)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise step
        return httpx.Response(step, json={})


def test_a_401_refreshes_credentials_once_stale_since_the_refused_request_then_retries_in_full() -> None:
    answers, sleeps, asked = Answers(401, 500, 500, 500), Sleeps(), []

    def auth(stale_since: float | None) -> httpx.Auth:
        asked.append(stale_since)
        return httpx.BasicAuth("site", "fresh" if stale_since else "cached")

    before = time.monotonic()
    http = HttpCaller(BASE, auth, client=httpx.Client(transport=httpx.MockTransport(answers)),
                      retry=RetryPolicy(attempts=3, sleep=sleeps))  # fmt: skip
    with pytest.raises(ServerError):
        http.request("PUT", "/customers/1", json={}, idempotent=True)
    # The refresh does not use up an attempt: the 401, then the three attempts of the policy.
    assert len(answers.requests) == 4 and len(sleeps) == 2
    assert asked[0] is None and asked[1] is not None and before <= asked[1] <= time.monotonic()
    assert len(asked) == 2


def test_a_second_401_is_a_configuration_error_raised_without_waiting() -> None:
    answers, sleeps = Answers(401, 401, 200), Sleeps()
    with pytest.raises(AuthenticationError) as caught:
        caller(answers, sleeps).request("PUT", "/customers/1", json={}, idempotent=True)
    assert caught.value.retryable and len(answers.requests) == 2 and sleeps == []


@pytest.mark.parametrize(
    ("raised", "error", "reason", "maybe_applied"),
    [
        (httpx.ConnectError("refused"), ConnectionFailedError, "could not reach Customer.io (ConnectError)", False),
        (httpx.ReadTimeout("slow"), RequestTimeoutError, "no answer in time (ReadTimeout)", True),
        (httpx.RemoteProtocolError("reset"), ConnectionFailedError, "connection failed (RemoteProtocolError)", True),
    ],
)
def test_transport_failures_say_what_failed_and_whether_it_may_have_been_sent(
    raised: Exception, error: type, reason: str, maybe_applied: bool
) -> None:
    answers, sleeps = Answers(raised, raised, raised), Sleeps()
    with pytest.raises(error) as caught:
        caller(answers, sleeps).request("POST", "/send/email", json={}, idempotent=False)
    assert (caught.value.reason, caught.value.maybe_applied) == (reason, maybe_applied)
    # A send that may have gone out is not repeated here; one that surely did not is.
    assert len(answers.requests) == (1 if maybe_applied else 3)


def test_the_default_timeout_fails_fast_on_connect_and_waits_for_an_answer() -> None:
    assert default_timeout() == httpx.Timeout(10.0, connect=3.0)
