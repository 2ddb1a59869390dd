"""`make package`: one deployable zip per function, holding only what that function runs.

What goes in is derived, not listed:
- the runtime's modules that `functions/<name>/main.py` reaches through its imports (followed
  through every module, including imports inside functions, which run on the first request;
  imports under `if TYPE_CHECKING:` never run and are not followed), with the package data of
  the packages reached;
- a `requirements.txt` of that function's own third-party imports and what they require
  (distribution metadata, markers evaluated for the function's runtime), each pinned to the
  version in the top-level `requirements.txt` lock. A dependency missing from the lock fails the
  build, so what deploys is what the tests installed.

So identify's zip has no BigQuery client, webhook-ingest's no Firestore, and none holds the
sandbox, the local stack, the operator CLI or test helpers (they are other distributions).
Each zip also carries its modules' bytecode for the functions' Python (`PYTHON_VERSION`),
compiled with unchecked-hash invalidation, so it stays valid whatever timestamps the deployment
gives the files: a cold start then loads the runtime instead of compiling it first (about a
third of the runtime's import time). The interpreter is `$PACKAGE_PYTHON`, `python3.12` on PATH
or a pyenv 3.12; without one the zips hold source only (correct, slower to start) and the build
says so.

Timestamps are fixed: an unchanged function gives a byte-identical zip, which Terraform does not
redeploy. `--unpacked` also writes each zip's tree beside it, which the local stack runs, with
bytecode for the interpreter running this script (the one that runs the local stack).
"""

from __future__ import annotations

import argparse
import ast
import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_SRC = ROOT / "shared" / "src"
RUNTIME = "customerio_gcp"
FUNCTIONS = ("identify", "track", "transactional", "webhook_ingest")
PYTHON_VERSION = "3.12"  # the functions' runtime (terraform: python312)
EPOCH = (1980, 1, 1, 0, 0, 0)
# Package data the runtime reads at run time (shared/pyproject.toml package-data, minus py.typed).
DATA_SUFFIXES = (".json", ".sql")


@dataclass
class Closure:
    modules: dict[str, Path] = field(default_factory=dict)
    third_party: set[str] = field(default_factory=set)


def imports_of(path: Path) -> Iterator[str]:
    """Every module an import in `path` may load, skipping `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_bytes(), str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            # `from package import module` loads the module too
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def runtime_file(module: str) -> Path | None:
    base = RUNTIME_SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def closure(entry: Path) -> Closure:
    found = Closure()
    pending = [entry]
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imports_of(path):
            top = module.split(".")[0]
            if top == RUNTIME:
                parts = module.split(".")
                for depth in range(1, len(parts) + 1):  # parents' __init__ run first
                    name = ".".join(parts[:depth])
                    file = runtime_file(name)
                    if file is not None and name not in found.modules:
                        found.modules[name] = file
                        pending.append(file)
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.third_party.add(module)
    return found


def distribution_of(module: str, owners: dict[str, str]) -> str | None:
    """The distribution that installs `module`, by its files (google.* is a namespace shared by
    many distributions, so the longest matching module path decides). An attribute import such
    as `from google.cloud import firestore` resolves through its parent."""
    parts = module.split(".")
    while parts:
        name = ".".join(parts)
        if name in owners:
            return owners[name]
        parts.pop()
    return None


def module_owners() -> dict[str, str]:
    """Every importable module or package of the installed distributions -> its distribution."""
    owners: dict[str, str] = {}
    for dist in metadata.distributions():
        for file in dist.files or ():
            path = str(file)
            if not path.endswith(".py"):
                continue
            name = path[: -len("/__init__.py")] if path.endswith("/__init__.py") else path[:-3]
            if all(part.isidentifier() for part in name.split("/")):
                owners.setdefault(name.replace("/", "."), dist.metadata["Name"])
    return owners


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_closure(roots: set[str]) -> set[str]:
    environment = default_environment() | {"python_version": PYTHON_VERSION, "python_full_version": PYTHON_VERSION}
    wanted: set[tuple[str, str]] = {(canonical(root), "") for root in roots}
    done: set[tuple[str, str]] = set()
    while wanted - done:
        name, extra = (wanted - done).pop()
        done.add((name, extra))
        for text in metadata.requires(name) or ():
            requirement = Requirement(text)
            if requirement.marker and not requirement.marker.evaluate(environment | {"extra": extra}):
                continue
            dependency = canonical(requirement.name)
            wanted.add((dependency, ""))
            wanted.update((dependency, e) for e in requirement.extras)
    return {name for name, _ in done}


def locked_versions() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins


def requirements(found: Closure, owners: dict[str, str]) -> bytes:
    roots = set()
    for module in sorted(found.third_party):
        owner = distribution_of(module, owners)
        if owner is None and any(other.startswith(module + ".") for other in found.third_party):
            continue  # a namespace (`from google.cloud import firestore`): its member decides
        if owner is None:
            raise SystemExit(f"no installed distribution provides {module!r}: install it or fix the import")
        roots.add(owner)
    pins = locked_versions()
    lines = []
    for name in sorted(requirement_closure(roots)):
        if name not in pins:
            raise SystemExit(f"{name} is needed but not pinned in requirements.txt")
        lines.append(f"{name}=={pins[name]}")
    return ("\n".join(lines) + "\n").encode()


def contents(function: str, owners: dict[str, str]) -> dict[str, bytes]:
    entry = ROOT / "functions" / function / "main.py"
    found = closure(entry)
    files: dict[str, bytes] = {"main.py": entry.read_bytes(), "requirements.txt": requirements(found, owners)}
    for file in found.modules.values():
        files[str(file.relative_to(RUNTIME_SRC))] = file.read_bytes()
    for package in {file.parent for file in found.modules.values()}:
        # data beside a package's modules, or in a plain folder of it (webhooks/bigquery/)
        for data in [*package.glob("*"), *package.glob("*/*")]:
            if data.suffix in DATA_SUFFIXES and not (data.parent != package and (data.parent / "__init__.py").exists()):
                files[str(data.relative_to(RUNTIME_SRC))] = data.read_bytes()
    return dict(sorted(files.items()))


def with_bytecode(files: dict[str, bytes], python: str) -> dict[str, bytes]:
    """`files` plus `__pycache__/*.pyc` for every module, compiled by `python`. Unchecked-hash
    pycs are used as they are (no timestamp or source check), and hold no build path (`-s`), so
    the same sources give the same bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_tree(root, {name: data for name, data in files.items() if name.endswith(".py")})
        subprocess.run(
            [python, "-m", "compileall", "-q", "-s", str(root), "--invalidation-mode", "unchecked-hash", str(root)],
            check=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": ""},
        )
        compiled = {str(pyc.relative_to(root)): pyc.read_bytes() for pyc in root.rglob("*.pyc")}
    return dict(sorted((files | compiled).items()))


def deploy_python() -> str | None:
    """An interpreter of the functions' Python version, to compile the zips' bytecode with."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [os.environ.get("PACKAGE_PYTHON", ""), shutil.which(f"python{PYTHON_VERSION}") or ""]
    candidates += sorted(str(p) for p in pyenv.glob(f"versions/{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}"))
    for candidate in filter(None, candidates):
        try:
            version = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                     capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        except (OSError, subprocess.CalledProcessError):
            continue
        if version == PYTHON_VERSION:
            return candidate
    return None


def write_zip(target: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def write_tree(target: Path, files: dict[str, bytes]) -> None:
    shutil.rmtree(target, ignore_errors=True)
    for name, data in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default=str(ROOT / "build" / "functions"))
    parser.add_argument("--unpacked", action="store_true", help="also write each zip's tree to OUT_DIR/<name>/")
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    owners = module_owners()
    python = deploy_python()
    if python is None:
        print(f"note: no Python {PYTHON_VERSION} found (python{PYTHON_VERSION} on PATH or $PACKAGE_PYTHON): "
              "the zips hold source only, and each cold start compiles the runtime first")  # fmt: skip
    for function in FUNCTIONS:
        files = contents(function, owners)
        write_zip(out_dir / f"{function}.zip", with_bytecode(files, python) if python else files)
        if args.unpacked:
            write_tree(out_dir / function, with_bytecode(files, sys.executable))
        modules = sum(1 for name in files if name.endswith(".py")) - 1
        print(f"packaged {out_dir / function}.zip: {modules} runtime modules"
              f"{f' (+ Python {PYTHON_VERSION} bytecode)' if python else ''}, "
              f"{files['requirements.txt'].count(b'==')} pinned requirements")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
