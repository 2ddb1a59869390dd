"""Which requests the sandbox answers badly, and how.

Random faults (a share of 429s, 5xx, slow answers) model a bad day at Customer.io; scripted
faults ("the next 2 requests to a path containing /events get 503") make demos and tests exact.
The random generator is seeded so a run can be repeated.

Two families of fault:

- *refused* (`status`, `rate_429`, `rate_5xx`, `reset_before`): nothing is applied; the client
  gets the error status, or (`reset_before`) the connection is closed without an answer.
- *applied, then failed* (`apply_then_status`, `apply_then_reset`, `garbage_body`): the sandbox
  performs the operation exactly as it would have (the send is queued, the event stored, the
  request logged as accepted with `fault` naming what replaced the answer), then answers a 5xx,
  closes the connection without an answer, or answers 200 with a body that is not the
  documented one. This is what a timeout or a proxy error after Customer.io's commit looks like
  to a client: the only way to test that a retry does not send twice.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

GARBAGE_BODY = "<html><body>sandbox garbage_body fault: not JSON</body></html>"
APPLY_THEN_KINDS = ("apply_then_status", "apply_then_reset", "garbage_body")
"""Fault kinds after which the operation has been applied."""


class FaultConfigError(ValueError):
    """A fault configuration the sandbox cannot honour (answered 400 by `PUT /_sandbox/faults`)."""


@dataclass
class ScriptedFault:
    """The next `count` requests whose path contains `path_contains` (and, with `identifier`,
    that are about that person) get this fault.

    Exactly one kind: `status` (refused with that status), `apply_then_status` (applied, then
    that 5xx), `apply_then_reset` (applied, then the connection is reset without an answer),
    `garbage_body` (applied, then 200 with a body that is not JSON; a string sets that body) or
    `reset_before` (connection reset, nothing applied).

    `identifier` (an id, email, phone or cio_id value) narrows it to the requests about that
    person: a v1 call naming it in its path, a v2 `entity` or `batch` request holding an
    operation for it, an App API send or a merge naming it in its body. The whole request gets
    the fault — a v2 batch fails for every operation in it, as a failed request does.
    """

    status: int | None = None
    count: int = 1
    path_contains: str = ""
    retry_after: float | None = None
    text: str | None = None
    """A plain-text body instead of JSON, as a proxy or Cloudflare error page sends."""
    apply_then_status: int | None = None
    apply_then_reset: bool = False
    garbage_body: bool | str = False
    reset_before: bool = False
    identifier: str | None = None

    def __post_init__(self) -> None:
        kinds = [
            self.status is not None,
            self.apply_then_status is not None,
            bool(self.apply_then_reset),
            bool(self.garbage_body),
            bool(self.reset_before),
        ]
        if sum(kinds) != 1:
            raise FaultConfigError(
                "a scripted fault needs exactly one of status, apply_then_status, apply_then_reset, "
                "garbage_body, reset_before"
            )
        _check_apply_then_status(self.apply_then_status)

    def decision(self) -> Decision:
        if self.status is not None:
            return Decision(self.status, self.retry_after, text=self.text)
        if self.apply_then_status is not None:
            return Decision(kind="apply_then_status", after_status=self.apply_then_status, text=self.text)
        if self.apply_then_reset:
            return Decision(kind="apply_then_reset")
        if self.garbage_body:
            body = self.garbage_body if isinstance(self.garbage_body, str) else GARBAGE_BODY
            return Decision(kind="garbage_body", text=body)
        return Decision(kind="reset_before")


@dataclass
class Faults:
    rate_429: float = 0.0
    retry_after: float | None = 1.0
    rate_5xx: float = 0.0
    status_5xx: int = 503
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    rate_reset_before: float = 0.0
    """Share of requests whose connection is reset before anything is applied."""
    rate_apply_then_status: float = 0.0
    """Share of requests applied, then answered `apply_then_status`."""
    apply_then_status: int = 500
    rate_apply_then_reset: float = 0.0
    """Share of requests applied, then reset without an answer."""
    rate_garbage_body: float = 0.0
    """Share of requests applied, then answered 200 with a body that is not JSON."""
    scripted: list[ScriptedFault] = field(default_factory=list)
    reject_identifiers: list[str] = field(default_factory=list)
    """v2 batch items (and v1 calls) for these identifier values are refused (207 / 400)."""
    seed: int | None = None

    def __post_init__(self) -> None:
        _check_apply_then_status(self.apply_then_status)
        rates = (self.rate_429, self.rate_5xx, self.rate_reset_before, self.rate_apply_then_status,
                 self.rate_apply_then_reset, self.rate_garbage_body)  # fmt: skip
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise FaultConfigError("fault rates must be >= 0 and add up to at most 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise FaultConfigError(f"unknown fault settings: {sorted(unknown)}")
        try:
            scripted = [ScriptedFault(**item) for item in data.get("scripted", [])]
            fields = {k: v for k, v in data.items() if k != "scripted"}
            return cls(scripted=scripted, **fields)
        except TypeError as error:
            raise FaultConfigError(str(error)) from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_apply_then_status(status: int | None) -> None:
    if status is not None and not 500 <= status <= 599:
        raise FaultConfigError("apply_then_status must be a 5xx status (e.g. 500, 502, 504)")


@dataclass(frozen=True)
class Decision:
    status: int | None = None
    """Refuse with this status (nothing applied)."""
    retry_after: float | None = None
    delay: float = 0.0
    text: str | None = None
    kind: str | None = None
    """`reset_before`, or one of `APPLY_THEN_KINDS`: what happens instead of the normal answer."""
    after_status: int | None = None


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

    def decide(self, path: str, people: frozenset[str] = frozenset()) -> Decision:
        """The fault for a request to `path` about `people` (the identifier values it names)."""
        with self._lock:
            f = self._faults
            for fault in f.scripted:
                if fault.identifier is not None and fault.identifier not in people:
                    continue
                if fault.count > 0 and fault.path_contains in path:
                    fault.count -= 1
                    return fault.decision()
            delay = f.slow_seconds if f.slow_rate and self._random.random() < f.slow_rate else 0.0
            roll = self._random.random()
            status = f.apply_then_status
            # The older kinds first, so a seeded run of 429/5xx faults repeats as before.
            bands: list[tuple[float, Decision]] = [
                (f.rate_429, Decision(429, f.retry_after, delay)),
                (f.rate_5xx, Decision(f.status_5xx, None, delay)),
                (f.rate_reset_before, Decision(delay=delay, kind="reset_before")),
                (f.rate_apply_then_status, Decision(delay=delay, kind="apply_then_status", after_status=status)),
                (f.rate_apply_then_reset, Decision(delay=delay, kind="apply_then_reset")),
                (f.rate_garbage_body, Decision(delay=delay, kind="garbage_body", text=GARBAGE_BODY)),
            ]  # fmt: skip
            edge = 0.0
            for rate, decision in bands:
                edge += rate
                if roll < edge:
                    return decision
            return Decision(None, None, delay)

    def rejects(self, identifier: str) -> bool:
        return identifier in self._faults.reject_identifiers
