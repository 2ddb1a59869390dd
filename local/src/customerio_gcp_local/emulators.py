"""The Pub/Sub and Firestore emulators from the Google Cloud SDK, started on free ports.

Needs `gcloud` with the `pubsub-emulator` and `cloud-firestore-emulator` components and Java;
`require_gcloud` says what to install when they are missing instead of failing obscurely.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from customerio_gcp_local.processes import ManagedProcess, free_port, wait_for_port

INSTALL_HINT = (
    "The Google Cloud SDK is needed for the local emulators: install it (https://cloud.google.com/sdk/docs/install), "
    "then run `gcloud components install pubsub-emulator cloud-firestore-emulator beta` "
    "(or apt-get install google-cloud-cli-pubsub-emulator google-cloud-cli-firestore-emulator). Java 11+ is required."
)


class MissingToolError(RuntimeError):
    pass


def require_gcloud() -> str:
    path = shutil.which("gcloud")
    if path is None:
        raise MissingToolError("gcloud was not found on PATH. " + INSTALL_HINT)
    if shutil.which("java") is None:
        raise MissingToolError("java was not found on PATH; the emulators run on Java 11 or newer.")
    return path


@dataclass
class Emulator:
    name: str
    host: str
    process: ManagedProcess

    def stop(self) -> None:
        self.process.stop()


def start_pubsub(project: str, log_dir: Path, *, port: int | None = None, timeout: float = 60.0) -> Emulator:
    gcloud = require_gcloud()
    port = port or free_port()
    args = [gcloud, "beta", "emulators", "pubsub", "start", f"--host-port=127.0.0.1:{port}", f"--project={project}"]
    return _start("pubsub", args, port, log_dir, timeout)


def start_firestore(log_dir: Path, *, port: int | None = None, timeout: float = 60.0) -> Emulator:
    gcloud = require_gcloud()
    port = port or free_port()
    args = [gcloud, "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}"]
    return _start("firestore", args, port, log_dir, timeout)


def _start(name: str, args: list[str], port: int, log_dir: Path, timeout: float) -> Emulator:
    process = ManagedProcess(f"{name}-emulator", args, log_dir=log_dir)
    try:
        wait_for_port(port, timeout=timeout, process=process.process)
    except (RuntimeError, TimeoutError) as exc:
        process.stop()
        raise RuntimeError(f"the {name} emulator did not start: {exc}\n{process.tail()}") from exc
    return Emulator(name, f"127.0.0.1:{port}", process)


DEFAULT_BIGQUERY_EMULATOR = Path(".tools/local-bigquery/bin/local-bigquery")


def start_bigquery(
    project: str, log_dir: Path, *, executable: Path | None = None, port: int | None = None, timeout: float = 60.0
) -> Emulator:
    """local-bigquery (installed by `make install` into .tools/); `host` is its REST endpoint URL."""
    binary = executable or Path(os.environ.get("LOCAL_BIGQUERY", DEFAULT_BIGQUERY_EMULATOR))
    if not binary.exists():
        raise MissingToolError(
            f"the BigQuery emulator is not installed at {binary}: run `make install` "
            "(scripts/install-bigquery-emulator.sh; it needs Python 3.13)"
        )
    port = port or free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="local-bigquery-"))
    args = [str(binary), "serve", "--host", "127.0.0.1", "--port", str(port), "--grpc-port", str(free_port())]
    args += ["--project", project, "--data-dir", str(data_dir)]
    emulator = _start("bigquery", args, port, log_dir, timeout)
    emulator.host = f"http://127.0.0.1:{port}"
    return emulator
