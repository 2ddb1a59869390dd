"""Concurrent lookups share reads (`customerio_gcp.batched_reads`), and each still gets exactly
its own answer, sees every write made before it asked, and fails alone when its read fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from customerio_gcp.batched_reads import BatchedReads


def concurrently(lookup: Callable[[int], Any], count: int, timeout_s: float = 10.0) -> list[Any]:
    """`lookup(n)` for n in range(count), each in its own daemon thread, outcomes in order (a
    raised exception is the outcome). A lookup that never returns fails the test instead of
    hanging it."""
    outcomes: list[Any] = [None] * count
    finished = [threading.Event() for _ in range(count)]

    def run(n: int) -> None:
        try:
            outcomes[n] = lookup(n)
        except Exception as exc:
            outcomes[n] = exc
        finished[n].set()

    for n in range(count):
        threading.Thread(target=run, args=(n,), daemon=True).start()
    deadline = time.monotonic() + timeout_s
    hanging = [n for n in range(count) if not finished[n].wait(max(0.0, deadline - time.monotonic()))]
    assert not hanging, f"{len(hanging)} lookups never returned"
    return outcomes


class Store:
    """A store whose reads take a while and are counted."""

    def __init__(self, delay_s: float = 0.02) -> None:
        self.data: dict[str, int] = {}
        self.reads: list[list[str]] = []
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def read(self, keys: Sequence[str]) -> dict[str, int]:
        with self.lock:
            snapshot = {k: self.data[k] for k in keys if k in self.data}
            self.reads.append(list(keys))
        time.sleep(self.delay_s)
        return snapshot


def test_an_idle_instance_reads_at_once() -> None:
    store = Store(delay_s=0)
    store.data = {"a": 1}
    assert BatchedReads(store.read).get_many(["a", "b"]) == {"a": 1}
    assert store.reads == [["a", "b"]]


def test_concurrent_lookups_share_reads_and_each_gets_its_own_answer() -> None:
    store = Store()
    store.data = {f"k{n}": n for n in range(0, 60, 2)}  # every other key exists
    reads = BatchedReads(store.read)
    answers = concurrently(lambda n: reads.get_many([f"k{n}"]), 60)
    assert answers == [({f"k{n}": n} if n % 2 == 0 else {}) for n in range(60)]
    assert len(store.reads) < 20  # one read per message would be 60
    assert sorted(k for keys in store.reads for k in keys) == sorted(f"k{n}" for n in range(60))


def test_a_lookup_never_joins_a_read_already_started() -> None:
    """A tombstone buried while a read is in flight is seen by every lookup asked after it."""
    store = Store(delay_s=0)
    started, release = threading.Event(), threading.Event()
    real_read = store.read

    def slow_first_read(keys: Sequence[str]) -> dict[str, int]:
        answer = real_read(keys)
        if len(store.reads) == 1:
            started.set()
            release.wait(5)
        return answer

    reads = BatchedReads(slow_first_read)

    def lookup(n: int) -> dict[str, int]:
        if n == 1:  # the second lookup asks once the first read is under way and "ada" written
            assert started.wait(5)
            store.data["ada"] = 1
            threading.Timer(0.05, release.set).start()
        return reads.get_many(["ada"])

    assert concurrently(lookup, 2) == [{}, {"ada": 1}]


def test_a_failed_read_fails_its_lookups_and_the_next_ones_read_again() -> None:
    calls = []

    def flaky(keys: Sequence[str]) -> dict[str, int]:
        calls.append(list(keys))
        if len(calls) == 1:
            time.sleep(0.05)
            raise ConnectionError("store down")
        return dict.fromkeys(keys, 1)

    reads = BatchedReads(flaky)
    outcomes = ["failed" if isinstance(o, ConnectionError) else o
                for o in concurrently(lambda n: reads.get_many([f"k{n}"]), 8)]  # fmt: skip
    first_read = {int(key[1:]) for key in calls[0]}  # whoever asked first: that read failed
    assert all(outcomes[n] == "failed" for n in first_read)
    assert all(o == "failed" or o == {f"k{n}": 1} for n, o in enumerate(outcomes))
    assert reads.get_many(["z"]) == {"z": 1}


def test_a_read_asks_for_at_most_max_keys() -> None:
    store = Store()
    reads = BatchedReads(store.read, max_keys=10)
    concurrently(lambda n: reads.get_many([f"a{n}", f"b{n}", f"c{n}"]), 40)
    assert max(len(keys) for keys in store.reads) <= 10
    assert reads.get_many([f"x{n}" for n in range(25)]) == {}  # larger than max_keys: read alone


@pytest.mark.parametrize("lookups", [1, 32])
def test_duplicate_keys_across_lookups(lookups: int) -> None:
    store = Store(delay_s=0.005)
    store.data = {"same": 7}
    reads = BatchedReads(store.read)
    assert concurrently(lambda _: reads.get_many(["same"]), lookups) == [{"same": 7}] * lookups


def test_a_read_answering_nonsense_fails_its_batch_and_the_store_keeps_working() -> None:
    """Anything that goes wrong after the read (here: it answers None) fails that batch's
    lookups; the turn still passes on, so later lookups are not stuck behind it."""
    calls = []

    def broken_once(keys: Sequence[str]) -> dict[str, int]:
        calls.append(list(keys))
        if len(calls) == 1:
            time.sleep(0.05)
            return None  # type: ignore[return-value]
        return dict.fromkeys(keys, 1)

    reads = BatchedReads(broken_once)
    outcomes = concurrently(lambda n: reads.get_many([f"k{n}"]), 5)
    assert any(isinstance(o, TypeError) for o in outcomes)
    assert all(isinstance(o, TypeError) or o == {f"k{n}": 1} for n, o in enumerate(outcomes))
    assert reads.get_many(["z"]) == {"z": 1}
