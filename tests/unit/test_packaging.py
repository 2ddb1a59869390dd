"""What deploys is only what runs: each function zip holds that function's runtime modules and
its own pinned requirements, and nothing that only helps people (sandbox, local stack, CLI,
tests). The zips are built here from the working tree, as `make package` builds them."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = ("identify", "track", "transactional", "webhook_ingest")
TOOLS = ("customerio_sandbox", "customerio_gcp_local", "customerio_gcp_ops", "tests", "bench")


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("functions")
    subprocess.run(
        [sys.executable, str(REPO / "scripts/package_functions.py"), str(out), "--unpacked"],
        check=True,
        capture_output=True,
    )
    return out


def names(packaged: Path, function: str) -> list[str]:
    with zipfile.ZipFile(packaged / f"{function}.zip") as archive:
        return archive.namelist()


def requirements(packaged: Path, function: str) -> dict[str, str]:
    with zipfile.ZipFile(packaged / f"{function}.zip") as archive:
        lines = archive.read("requirements.txt").decode().split()
    return dict(line.split("==") for line in lines)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_tool_or_test_code_ships(packaged: Path, function: str) -> None:
    files = names(packaged, function)
    assert "main.py" in files and "requirements.txt" in files
    assert not [f for f in files if f.split("/")[0] in TOOLS]
    assert not [f for f in files if Path(f).stem in ("cli", "testing", "sandbox", "pusher", "stack")]
    assert all(f in ("main.py", "requirements.txt") or f.startswith("customerio_gcp/") for f in files)


@pytest.mark.parametrize(
    ("function", "absent"),
    [
        ("identify", {"google-cloud-bigquery"}),
        ("track", {"google-cloud-bigquery"}),
        ("transactional", {"google-cloud-bigquery"}),
        ("webhook_ingest", {"google-cloud-firestore"}),
    ],
)
def test_each_zip_requires_only_its_own_clients(packaged: Path, function: str, absent: set[str]) -> None:
    pinned = requirements(packaged, function)
    assert not absent & set(pinned)
    assert {"functions-framework", "google-cloud-pubsub", "google-cloud-secret-manager"} <= set(pinned)
    if function != "webhook_ingest":  # send-once records, attribute hashes, deletion tombstones
        assert "google-cloud-firestore" in pinned


def test_pins_are_the_tested_lock(packaged: Path) -> None:
    lock = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            lock[name.lower().replace("_", "-").replace(".", "-")] = version
    for function in FUNCTIONS:
        for name, version in requirements(packaged, function).items():
            assert lock[name] == version, (function, name)


def test_webhook_ingest_does_not_ship_the_customerio_clients(packaged: Path) -> None:
    files = names(packaged, "webhook_ingest")
    assert "customerio_gcp/customerio/track.py" not in files
    assert "customerio_gcp/webhooks/bigquery/events_table.json" in files  # package data it reads


def test_packaging_is_reproducible(packaged: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(REPO / "scripts/package_functions.py"), str(tmp_path)], check=True)
    for function in FUNCTIONS:
        assert (tmp_path / f"{function}.zip").read_bytes() == (packaged / f"{function}.zip").read_bytes()


IMPORT_ALL = """
import importlib, json, pathlib, sys
tree = pathlib.Path(sys.argv[1])
sys.path[:] = [str(tree)] + [p for p in sys.path if not p.endswith("shared/src")]
import main  # the entry point, as the runtime loads it
modules = sorted(
    ".".join(p.relative_to(tree).with_suffix("").parts).removesuffix(".__init__")
    for p in tree.rglob("*.py") if p.name != "main.py"
)
for name in modules:
    importlib.import_module(name)
outside = [m.__file__ for n, m in sys.modules.items()
           if n.startswith("customerio_gcp") and not str(m.__file__).startswith(str(tree))]
print(json.dumps({"modules": len(modules), "outside": outside}))
"""


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_module_imports_from_the_zip_alone(packaged: Path, function: str) -> None:
    """A module the packaging missed would be found nowhere (the repository's copy is taken off
    sys.path), so the import fails here instead of in production."""
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, str(packaged / function)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert report["modules"] > 10
    assert report["outside"] == []
