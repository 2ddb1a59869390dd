"""The README's examples run as written (they live in examples/ so the docs cannot drift)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_quickstart() -> None:
    out = run("quickstart.py")
    assert "sandbox: 1 person, 1 event, 1 email" in out
    delivery = out.split("delivery ")[1].split(" ")[0]
    assert f"(repeat gave {delivery})" in out


def test_publish(pubsub_emulator: str) -> None:
    from google.api_core.exceptions import AlreadyExists
    from google.cloud import pubsub_v1

    from customerio_gcp.pipeline import load

    publisher = pubsub_v1.PublisherClient()
    for spec in load().topics.values():
        path = publisher.topic_path(PROJECT, spec.topic)
        with contextlib.suppress(AlreadyExists):  # created by an earlier test on this emulator
            publisher.create_topic(name=path)
    out = run("publish.py", GOOGLE_CLOUD_PROJECT=PROJECT, PUBSUB_EMULATOR_HOST=pubsub_emulator)
    assert "refused: invalid message: identify.identifiers" in out
    assert "published 3 messages" in out
