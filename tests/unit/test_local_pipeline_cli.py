"""`make run` on a machine without the Cloud SDK says what to install instead of failing obscurely."""

from __future__ import annotations

import os
import subprocess
import sys


def test_missing_gcloud_is_explained(tmp_path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}  # an empty PATH: no gcloud, no java
    result = subprocess.run(
        [sys.executable, "-m", "customerio_gcp_local.pipeline"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "gcloud was not found on PATH" in result.stderr
    assert "gcloud components install pubsub-emulator cloud-firestore-emulator" in result.stderr
