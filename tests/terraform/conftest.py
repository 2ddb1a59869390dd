from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.terraform.harness import REPO, init


@pytest.fixture(scope="session")
def packaged() -> Path:
    """The function zips the configuration uploads (`make package` does the same)."""
    subprocess.run(
        [sys.executable, str(REPO / "scripts/package_functions.py"), str(REPO / "build/functions")],
        check=True,
        capture_output=True,
    )
    return REPO / "build" / "functions"


@pytest.fixture(scope="session")
def terraform_root(packaged: Path) -> Path:
    root = REPO / "terraform"
    result = init(root)
    assert result.code == 0, result.text
    return root
