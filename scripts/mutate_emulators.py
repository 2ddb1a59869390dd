"""pytest plugin for `make mutate`: the session fixtures of tests/conftest.py get the Pub/Sub and
Firestore emulators that scripts/mutate.py started once, rather than starting (and stopping) a
pair for every mutant. Loaded with `-p mutate_emulators` (setup.cfg); inert without the variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from customerio_gcp_local import emulators


@dataclass
class SharedEmulator:
    """Quacks like `emulators.Emulator`; stopping it is the wrapper's job, not a test session's."""

    name: str
    host: str

    def stop(self) -> None:
        pass


def _shared(name: str, variable: str, start: Any) -> Any:
    host = os.environ.get(variable)
    if not host:
        return start

    def reuse(*_args: object, **_kwargs: object) -> SharedEmulator:
        return SharedEmulator(name, host)

    return reuse


emulators.start_pubsub = _shared("pubsub", "MUTATE_PUBSUB_HOST", emulators.start_pubsub)
emulators.start_firestore = _shared("firestore", "MUTATE_FIRESTORE_HOST", emulators.start_firestore)
