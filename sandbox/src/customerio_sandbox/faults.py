"""Which requests the sandbox answers badly, and how.

Random faults (a share of 429s, 5xx, slow answers) model a bad day at Customer.io; scripted
faults ("the next 2 requests to a path containing /events get 503") make demos and tests exact.
The random generator is seeded so a run can be repeated.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ScriptedFault:
    status: int
    count: int = 1
    path_contains: str = ""
    retry_after: float | None = None
    text: str | None = None
    """A plain-text body instead of JSON, as a proxy or Cloudflare error page sends."""


@dataclass
class Faults:
    rate_429: float = 0.0
    retry_after: float | None = 1.0
    rate_5xx: float = 0.0
    status_5xx: int = 503
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    scripted: list[ScriptedFault] = field(default_factory=list)
    reject_identifiers: list[str] = field(default_factory=list)
    """v2 batch items (and v1 calls) for these identifier values are refused (207 / 400)."""
    seed: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        scripted = [ScriptedFault(**item) for item in data.get("scripted", [])]
        fields = {k: v for k, v in data.items() if k != "scripted" and k in cls.__dataclass_fields__}
        return cls(scripted=scripted, **fields)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    text: str | None = None


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults = Faults()
        self._random = random.Random()  # noqa: S311 - fault sampling, not cryptography

    @property
    def faults(self) -> Faults:
        return self._faults

    def configure(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults
            self._random = random.Random(faults.seed)  # noqa: S311

    def decide(self, path: str) -> Decision:
        with self._lock:
            f = self._faults
            for fault in f.scripted:
                if fault.count > 0 and fault.path_contains in path:
                    fault.count -= 1
                    return Decision(fault.status, fault.retry_after, text=fault.text)
            delay = f.slow_seconds if f.slow_rate and self._random.random() < f.slow_rate else 0.0
            roll = self._random.random()
            if roll < f.rate_429:
                return Decision(429, f.retry_after, delay)
            if roll < f.rate_429 + f.rate_5xx:
                return Decision(f.status_5xx, None, delay)
            return Decision(None, None, delay)

    def rejects(self, identifier: str) -> bool:
        return identifier in self._faults.reject_identifiers
