"""The one composition root: builds each function's handler from `Settings`, once per process.

Every `functions/*/main.py` is the same few lines:

    handle = entry_point(build)          # build: customerio_gcp.wiring.<function>.build

Nothing is built at import: the first request builds the handler and keeps it, so the connection
pool, the secret cache and the Firestore client live across invocations. Each function has its
own builder module that imports only its own parts (track never loads Firestore, the delivery
functions never load BigQuery, webhook-ingest never loads the Customer.io clients), and the
packaging follows those imports to decide what goes in each function's zip. Handlers receive
their parts and never import this package.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from customerio_gcp.settings import Settings

Result = TypeVar("Result")


class EntryPoint(Generic[Result]):
    """A function's handler, built from the environment on the first request (thread-safe: a
    function instance serves concurrent requests)."""

    def __init__(self, build: Callable[[Settings], Callable[[Any], Result]]) -> None:
        self._build = build
        self._handler: Callable[[Any], Result] | None = None
        self._lock = threading.Lock()

    def __call__(self, request: Any) -> Result:
        handler = self._handler
        if handler is None:
            with self._lock:
                if self._handler is None:
                    self._handler = self._build(Settings.from_env())
                handler = self._handler
        return handler(request)


def entry_point(build: Callable[[Settings], Callable[[Any], Result]]) -> EntryPoint[Result]:
    """What `functions/<name>/main.py` calls at import: cheap, builds nothing yet."""
    return EntryPoint(build)
