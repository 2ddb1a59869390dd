"""The coalescer against a scripted sender: who joins which batch, when a batch goes, and what
each waiter gets back (207 items, a poison item in a 400, whole-request failures)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from customerio_gcp.customerio.errors import (
    BadRequestError,
    BatchItemError,
    BatchItemFailure,
    LimitExceededError,
    RateLimitedError,
    ServerError,
)
from customerio_gcp.customerio.transport import RetryPolicy
from customerio_gcp.customerio.v2 import Operation
from customerio_gcp.delivery.coalescing import Coalescer
from customerio_gcp.delivery.pacing import Pacer


def op(n: int | str, **extra: object) -> Operation:
    return {"type": "person", "identifiers": {"id": f"p{n}"}, "action": "identify", "attributes": {"n": n}, **extra}


class Sender:
    """Records every request; `gate` holds the first request on the wire until released;
    `answer` decides each request's fate (default: all accepted)."""

    def __init__(self, answer: Callable[[Sequence[Operation]], Sequence[BatchItemFailure]] | None = None) -> None:
        self.requests: list[list[Operation]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self._answer = answer
        self._lock = threading.Lock()

    def __call__(self, operations: Sequence[Operation]) -> Sequence[BatchItemFailure]:
        with self._lock:
            self.requests.append(list(operations))
        self.started.set()
        self.gate.wait(10)
        return self._answer(operations) if self._answer else []

    def ids(self) -> list[list[str]]:
        return [[o["identifiers"]["id"] for o in request] for request in self.requests]


def submit_all(coalescer: Coalescer, operations: Sequence[Operation], pool: ThreadPoolExecutor) -> list[Future[None]]:
    """Each submitted once the one before it is placed: they arrive in order, and all are placed
    when this returns (a sleep between them would not promise either on a loaded machine)."""
    futures = []
    for operation in operations:
        placed = coalescer.stats.items + 1
        futures.append(pool.submit(coalescer.submit, operation, person=operation["identifiers"]["id"]))
        deadline = time.monotonic() + 10
        while coalescer.stats.items < placed and not futures[-1].done() and time.monotonic() < deadline:
            time.sleep(0.0005)
        assert coalescer.stats.items >= placed or futures[-1].done(), "an operation was never placed"
    return futures


def busy(sender: Sender, coalescer: Coalescer, pool: ThreadPoolExecutor) -> Future[None]:
    """Put one request on the wire and hold it there: the instance is now busy."""
    sender.gate.clear()
    first = pool.submit(coalescer.submit, op("first"), person="first")
    assert sender.started.wait(5)
    return first


def test_a_message_alone_on_an_idle_instance_goes_at_once() -> None:
    sender = Sender()
    coalescer = Coalescer(sender, linger_s=2.0)
    started = time.monotonic()
    coalescer.submit(op(1))
    assert time.monotonic() - started < 0.5  # not the 2 s linger
    assert sender.ids() == [["p1"]]


def test_concurrent_waiters_join_one_batch_and_each_returns() -> None:
    sender = Sender()
    coalescer = Coalescer(sender, linger_s=0.05, max_in_flight=1)  # the batch fills while one is out
    with ThreadPoolExecutor(40) as pool:
        first = busy(sender, coalescer, pool)
        futures = submit_all(coalescer, [op(i) for i in range(30)], pool)
        time.sleep(0.1)
        sender.gate.set()
        for future in [first, *futures]:
            assert future.result(5) is None
    assert sender.ids() == [["pfirst"], [f"p{i}" for i in range(30)]]
    assert coalescer.stats.requests == 2 and coalescer.stats.items == 31


def test_a_busy_instance_lingers_then_sends_without_waiting_for_more() -> None:
    sender = Sender()
    coalescer = Coalescer(sender, linger_s=0.2, max_in_flight=2)
    with ThreadPoolExecutor(4) as pool:
        busy(sender, coalescer, pool)
        started = time.monotonic()
        second = pool.submit(coalescer.submit, op(2))
        time.sleep(0.05)
        assert len(sender.requests) == 1  # still lingering
        while len(sender.requests) < 2:
            time.sleep(0.005)
        waited = time.monotonic() - started
        sender.gate.set()
        second.result(5)
    assert 0.18 <= waited < 1.0


def test_the_count_cap_flushes_without_waiting_for_the_linger() -> None:
    sender = Sender()
    coalescer = Coalescer(sender, linger_s=5.0, max_items=3, max_in_flight=4)
    with ThreadPoolExecutor(10) as pool:
        busy(sender, coalescer, pool)
        futures = submit_all(coalescer, [op(i) for i in range(6)], pool)
        deadline = time.monotonic() + 2
        while len(sender.requests) < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert sender.ids()[1:] == [["p0", "p1", "p2"], ["p3", "p4", "p5"]]  # full: sent long before 5 s
        sender.gate.set()
        for future in futures:
            future.result(5)


def test_the_byte_limit_splits_requests_and_an_item_over_32kb_is_refused_alone() -> None:
    sender = Sender()
    big = "x" * 900
    coalescer = Coalescer(sender, linger_s=0.05, max_bytes=3_000)
    with ThreadPoolExecutor(10) as pool:
        busy(sender, coalescer, pool)
        futures = submit_all(coalescer, [op(i, attributes={"v": big}) for i in range(6)], pool)
        time.sleep(0.1)
        sender.gate.set()
        for future in futures:
            future.result(5)
    sizes = [len(request) for request in sender.requests[1:]]
    assert sum(sizes) == 6 and max(sizes) <= 3  # each ~960 bytes: three fit under 3,000
    with pytest.raises(LimitExceededError, match="v2 operation"):
        coalescer.submit(op("huge", attributes={"v": "y" * 40_000}))


def test_a_207_fails_only_the_items_it_names_with_their_reason() -> None:
    def answer(operations: Sequence[Operation]) -> list[BatchItemFailure]:
        return [
            BatchItemFailure(i, "invalid", "attributes", "bad value")
            for i, o in enumerate(operations)
            if o["identifiers"]["id"] in ("p3", "p7")
        ]

    sender = Sender(answer)
    coalescer = Coalescer(sender, linger_s=0.05, max_in_flight=1)
    with ThreadPoolExecutor(20) as pool:
        busy(sender, coalescer, pool)
        futures = submit_all(coalescer, [op(i) for i in range(10)], pool)
        time.sleep(0.1)
        sender.gate.set()
        outcomes = {i: f.exception(5) for i, f in enumerate(futures)}
    assert len(sender.requests) == 2
    failed = {i: e for i, e in outcomes.items() if e is not None}
    assert set(failed) == {3, 7}
    for error in failed.values():
        assert isinstance(error, BatchItemError) and not error.retryable
        assert "invalid" in error.reason and "bad value" in error.reason


def test_a_400_is_split_until_the_poison_item_is_isolated() -> None:
    def answer(operations: Sequence[Operation]) -> list[BatchItemFailure]:
        if any(o["identifiers"]["id"] == "p5" for o in operations):
            raise BadRequestError("malformed request", status=400)
        return []

    sender = Sender(answer)
    coalescer = Coalescer(sender, linger_s=0.05, max_in_flight=1)
    with ThreadPoolExecutor(20) as pool:
        busy(sender, coalescer, pool)
        futures = submit_all(coalescer, [op(i) for i in range(16)], pool)
        time.sleep(0.1)
        sender.gate.set()
        outcomes = {i: f.exception(5) for i, f in enumerate(futures)}
    assert [i for i, e in outcomes.items() if e is not None] == [5]
    assert isinstance(outcomes[5], BatchItemError) and "malformed request" in outcomes[5].reason
    assert outcomes[5].status == 400  # what the dead letter's dlq_status says: refused alone, not a 207
    assert ["p5"] in sender.ids()
    # every neighbour was accepted exactly once, in log2(16) = 4 rounds of splitting
    accepted = [i for request in sender.ids()[1:] for i in request if "p5" not in request]
    assert sorted(accepted) == sorted(f"p{i}" for i in range(16) if i != 5)
    assert len(sender.requests) - 1 == 1 + 2 * 4


def test_an_interruption_while_splitting_leaves_no_waiter_hanging() -> None:
    """A BaseException (the process being stopped) in the first half's request: the second
    half's waiters get it too instead of waiting forever."""

    def answer(operations: Sequence[Operation]) -> list[BatchItemFailure]:
        if len(operations) == 8:
            raise KeyboardInterrupt
        raise BadRequestError("malformed request", status=400)

    sender = Sender(answer)
    coalescer = Coalescer(sender, linger_s=0.05, max_in_flight=1)
    outcomes: dict[int, BaseException | None] = {}

    def submit(n: int) -> None:  # daemon threads: a waiter left hanging fails the test, not the run
        try:
            coalescer.submit(op(n), person=f"p{n}")
            outcomes[n] = None
        except BaseException as exc:
            outcomes[n] = exc

    with ThreadPoolExecutor(1) as pool:
        busy(sender, coalescer, pool)
        threads = [threading.Thread(target=submit, args=(n,), daemon=True) for n in range(16)]
        for thread in threads:
            thread.start()
            time.sleep(0.002)
        time.sleep(0.1)
        sender.gate.set()
        for thread in threads:
            thread.join(5)
    assert len(outcomes) == 16, f"{16 - len(outcomes)} waiters still waiting"
    assert all(isinstance(e, KeyboardInterrupt) for e in outcomes.values())


@pytest.mark.parametrize(
    "error", [RateLimitedError("slow down", retry_after=1), ServerError("down", status=503), TimeoutError()]
)
def test_a_whole_request_failure_fails_every_waiter_for_redelivery(error: BaseException) -> None:
    def answer(operations: Sequence[Operation]) -> list[BatchItemFailure]:
        if len(operations) > 1:
            raise error
        return []

    sender = Sender(answer)
    coalescer = Coalescer(sender, linger_s=0.05, max_in_flight=1)
    with ThreadPoolExecutor(10) as pool:
        first = busy(sender, coalescer, pool)
        futures = submit_all(coalescer, [op(i) for i in range(5)], pool)
        time.sleep(0.1)
        sender.gate.set()
        assert first.result(5) is None
        errors = [f.exception(5) for f in futures]
    assert all(e is error for e in errors)
    assert len(sender.requests) == 2  # no splitting, no retry storm from the coalescer


def test_no_batch_holds_two_operations_for_one_person() -> None:
    sender = Sender()
    coalescer = Coalescer(sender, linger_s=0.05, max_in_flight=1)
    operations = [op(1), op(2), op(1, action="suppress"), op(3), op(1, action="delete")]
    with ThreadPoolExecutor(10) as pool:
        busy(sender, coalescer, pool)
        futures = submit_all(coalescer, operations, pool)
        time.sleep(0.1)
        sender.gate.set()
        for future in futures:
            future.result(5)
    for request in sender.ids():
        assert len(request) == len(set(request))
    assert sum(request.count("p1") for request in sender.ids()) == 3


def test_many_threads_every_item_answered_once() -> None:
    seen: list[str] = []
    lock = threading.Lock()

    def answer(operations: Sequence[Operation]) -> list[BatchItemFailure]:
        time.sleep(0.002)
        with lock:
            seen.extend(o["identifiers"]["id"] for o in operations)
        return [BatchItemFailure(i, "no", None, "") for i, o in enumerate(operations) if o["attributes"]["n"] % 50 == 0]

    coalescer = Coalescer(Sender(answer), linger_s=0.005, max_items=20, max_in_flight=2)
    with ThreadPoolExecutor(64) as pool:
        futures = [pool.submit(coalescer.submit, op(i), person=f"p{i}") for i in range(1000)]
        errors = [f.exception(10) for f in futures]
    assert sorted(seen) == sorted(f"p{i}" for i in range(1000))  # each sent exactly once
    assert [i for i, e in enumerate(errors) if e is not None] == list(range(0, 1000, 50))
    assert coalescer.stats.requests < 200


def test_pacer_spaces_requests_under_the_rate() -> None:
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    pacer = Pacer(50, clock=lambda: now[0], sleep=sleep)
    waits = [pacer.wait() for _ in range(5)]
    assert waits == pytest.approx([0, 0.02, 0.04, 0.06, 0.08])
    now[0] += 1.0  # idle for a second: no debt carried, no burst beyond one
    assert pacer.wait() == 0 and pacer.wait() == pytest.approx(0.02)


def test_pacer_holds_many_threads_to_the_rate() -> None:
    pacer = Pacer(200)
    stamps: list[float] = []
    lock = threading.Lock()

    def go() -> None:
        pacer.wait()
        with lock:
            stamps.append(time.monotonic())

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: go(), range(60)))
    stamps.sort()
    assert (stamps[-1] - stamps[0]) >= 59 / 200 * 0.95  # 60 requests at 200/s take ≥ 0.295 s


def test_retry_after_gets_jitter_so_refused_callers_do_not_return_together() -> None:
    policy = RetryPolicy(retry_after_jitter=0.25)
    delays = {policy.delay(1, RateLimitedError("x", retry_after=2)) for _ in range(50)}
    assert all(d is not None and 2 <= d <= 2.5 for d in delays) and len(delays) > 10
    assert RetryPolicy().delay(1, RateLimitedError("x", retry_after=2)) == 2  # off by default
    assert RetryPolicy(retry_after_jitter=0.25).delay(1, RateLimitedError("x", retry_after=60)) is None


def test_settings_coalesce_by_default_turn_it_off_and_set_the_pace() -> None:
    from customerio_gcp.settings import Settings

    default = Settings.from_env({})  # on unless turned off (then one request per message)
    assert default.track_coalesce and Settings().track_coalesce and default.track_coalesce_linger_s == 0.05
    assert default.track_rps_per_instance == 0 and Settings.from_env({"TRACK_COALESCE": "true"}).track_coalesce
    assert not any(Settings.from_env({"TRACK_COALESCE": off}).track_coalesce for off in ("false", "FALSE", "0", "no"))
    for typo in ("flase", "disabled", "n"):  # a typo is an error, not silently "on"
        with pytest.raises(ValueError, match="TRACK_COALESCE must be true or false"):
            Settings.from_env({"TRACK_COALESCE": typo})
    with pytest.raises(ValueError, match="IDENTIFY_SKIP_UNCHANGED must be true or false"):
        Settings.from_env({"IDENTIFY_SKIP_UNCHANGED": "nope"})
    settings = Settings.from_env(
        {
            "TRACK_COALESCE": "false",
            "TRACK_COALESCE_LINGER_MS": "10",
            "TRACK_COALESCE_MAX_ITEMS": "40",
            "TRACK_COALESCE_MAX_IN_FLIGHT": "3",
            "CIO_TRACK_RPS_PER_INSTANCE": "50.0",
            "CIO_TRANSACTIONAL_RPS_PER_INSTANCE": "40",
        }
    )
    assert not settings.track_coalesce
    assert (settings.track_coalesce_linger_s, settings.track_coalesce_max_items) == (0.01, 40)
    assert settings.track_coalesce_max_in_flight == 3
    assert (settings.track_rps_per_instance, settings.transactional_rps_per_instance) == (50.0, 40.0)


def test_the_pacing_hook_paces_track_and_sends_each_under_their_own_pacer() -> None:
    from types import SimpleNamespace

    from customerio_gcp.delivery.pacing import is_track_path, is_transactional_path, pacing_hook

    waited: list[str] = []

    class Recording(Pacer):
        def __init__(self, name: str) -> None:
            super().__init__(1000)
            self.name = name

        def wait(self) -> float:
            waited.append(self.name)
            return 0.0

    hook = pacing_hook([(is_track_path, Recording("track")), (is_transactional_path, Recording("send"))])
    for path in ("/api/v2/batch", "/api/v1/customers/u1", "/v1/send/email", "/v1/campaigns/7/triggers"):
        hook(SimpleNamespace(url=SimpleNamespace(path=path)))
    assert waited == ["track", "track", "send"]


def test_just_after_a_batch_came_back_the_instance_is_not_idle() -> None:
    """The messages a batch answered are replaced at once under load: the first newcomer waits for
    them (the linger) instead of going alone and splitting the wave into a tiny batch and a big one."""
    sender = Sender()
    coalescer = Coalescer(sender, linger_s=0.2)
    coalescer.submit(op(1))  # idle: at once
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        futures = submit_all(coalescer, [op(i) for i in range(2, 8)], pool)
        for future in futures:
            future.result(5)
    assert time.monotonic() - started >= 0.15
    assert sender.ids() == [["p1"], [f"p{i}" for i in range(2, 8)]]
    time.sleep(0.25)  # quiet for longer than the linger: idle again
    started = time.monotonic()
    coalescer.submit(op(9))
    assert time.monotonic() - started < 0.15
