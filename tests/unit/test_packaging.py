"""What deploys is only what runs: each function zip holds that function's runtime modules and
its own pinned requirements, and nothing that only helps people (sandbox, local stack, CLI,
tests). The zips are built here from the working tree, as `make package` builds them."""

from __future__ import annotations

import importlib.util
import json
import os
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
    sources = [f for f in files if not f.endswith(".pyc")]
    assert all(f in ("main.py", "requirements.txt") or f.startswith("customerio_gcp/") for f in sources)
    for pyc in (f for f in files if f.endswith(".pyc")):  # bytecode only of what ships as source
        folder, name = pyc.rsplit("__pycache__/", 1)
        assert f"{folder}{name.split('.')[0]}.py" in files


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


COMPILED_AT_IMPORT = """
import importlib._bootstrap_external as external, json, pathlib, sys
tree = pathlib.Path(sys.argv[1])
sys.path[:] = [str(tree)] + [p for p in sys.path if not p.endswith("shared/src")]
compiled = []
original = external.SourceLoader.source_to_code
def source_to_code(self, data, path, **kwargs):
    compiled.append(str(path))
    return original(self, data, path, **kwargs)
external.SourceLoader.source_to_code = source_to_code
import main
print(json.dumps([path for path in compiled if path.startswith(str(tree))]))
"""


def test_the_local_trees_load_the_runtime_precompiled(packaged: Path) -> None:
    """Nothing of the runtime is compiled at a cold start: the packaged bytecode is used as is
    (unchecked-hash pycs), even where bytecode may not be written (PYTHONDONTWRITEBYTECODE)."""
    for function in FUNCTIONS:
        run = subprocess.run(
            [sys.executable, "-c", COMPILED_AT_IMPORT, str(packaged / function)],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )  # fmt: skip
        assert json.loads(run.stdout) == [], function


PYC_HEADERS = """
import importlib.util, json, pathlib, sys
headers = {str(p): p.read_bytes()[:8] for p in pathlib.Path(sys.argv[1]).rglob("*.pyc")}
magic = importlib.util.MAGIC_NUMBER
# bytes 4-8: flags; 0b01 = hash-based without a source check (unchecked-hash): loaded as is
print(json.dumps({path: h[:4] == magic and int.from_bytes(h[4:8], "little") == 1 for path, h in headers.items()}))
"""


def test_the_zips_carry_bytecode_for_the_functions_python(packaged: Path, tmp_path: Path) -> None:
    """Compiled by the functions' own Python version (terraform: python312), for every module."""
    spec = importlib.util.spec_from_file_location("package_functions", REPO / "scripts/package_functions.py")
    assert spec and spec.loader
    package = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = package  # its dataclasses look themselves up there
    spec.loader.exec_module(package)
    python = package.deploy_python()
    if python is None:
        pytest.skip(f"no Python {package.PYTHON_VERSION} here to compile the zips with")
    tag = "cpython-" + package.PYTHON_VERSION.replace(".", "")
    for function in FUNCTIONS:
        files = names(packaged, function)
        expected = []
        for module in (f for f in files if f.endswith(".py")):
            folder, _, name = module.rpartition("/")
            expected.append(f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.{tag}.pyc")
        assert sorted(f for f in files if f.endswith(".pyc")) == sorted(expected)
        with zipfile.ZipFile(packaged / f"{function}.zip") as archive:
            archive.extractall(tmp_path / function)
        run = subprocess.run([python, "-c", PYC_HEADERS, str(tmp_path / function)], capture_output=True, text=True,
                             check=True)  # fmt: skip
        valid = json.loads(run.stdout)
        assert len(valid) == len(expected) and all(valid.values()), function


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
