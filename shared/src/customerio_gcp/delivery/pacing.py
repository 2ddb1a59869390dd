"""A client-side pace: at most `rate_per_s` requests per second from this process.

Customer.io answers 429 above its limits (Track: 100 req/s per workspace; transactional sends:
100 req/s). Each function instance is given its share (`CIO_TRACK_RPS_PER_INSTANCE`, the budget
divided by the function's maximum instances, set by Terraform), so the instances together stay
under the limit instead of finding it by being refused. The pace spaces requests evenly (no
burst beyond `burst` requests): a caller over the pace waits in its own thread for its slot, and
slots are handed out in arrival order, so waiting callers are served fairly.

Applied as an httpx request hook (`hook`), it paces every attempt, retries included.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any


class Pacer:
    """Thread-safe. `wait()` returns once the caller may send (and the seconds it waited)."""

    def __init__(
        self,
        rate_per_s: float,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.rate_per_s = rate_per_s
        self._interval = 1.0 / rate_per_s
        self._tolerance = max(0, burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")  # the theoretical time of the next request (GCRA)
        self._lock = threading.Lock()

    def wait(self) -> float:
        with self._lock:
            now = self._clock()
            slot = max(self._next, now)
            delay = max(0.0, slot - now - self._tolerance)
            self._next = slot + self._interval
        if delay > 0:
            self._sleep(delay)
        return delay


def pacing_hook(pacers: Sequence[tuple[Callable[[str], bool], Pacer]]) -> Callable[[Any], None]:
    """An httpx `request` event hook: the first pacer whose predicate matches the request's path
    paces it (requests no predicate matches go at once)."""

    def hook(request: Any) -> None:
        path = request.url.path
        for matches, pacer in pacers:
            if matches(path):
                pacer.wait()
                return

    return hook


def is_track_path(path: str) -> bool:
    return path.startswith(("/api/v1/", "/api/v2/"))


def is_transactional_path(path: str) -> bool:
    return path.startswith("/v1/send/")
