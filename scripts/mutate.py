"""`make mutate`: mutation testing (mutmut) of the safety-critical modules, as a report.

Runs mutmut from build/mutate/ (see setup.cfg for why), on emulators started once here and shared
by every mutant (scripts/mutate_emulators.py), then prints the kill rate, overall and per module,
and the diff of every surviving mutant. Exits 0 whatever the score: it is a report, not a gate.
It exits non-zero only when mutmut could not run at all (e.g. the tests fail without mutants).

The mutants that survive are judged equivalent (no input can tell them from the code), as of
the run that added the tests/*/test_mutation_*.py files (894 of 906 killed):
- a header name's case changed (`"RETRY-AFTER"`, `"LOCATION"`, `"user-agent"`, `"USER-AGENT"`):
  httpx looks headers up without regard to case, and HTTP header names are case-insensitive;
- `_classify`'s default for a missing Location (`None`, no default, `"XXXX"`): urlsplit reads a
  falsy value as "", and "XXXX" has no host either, so the text says "another host" all the same;
- `refreshed = None` in `HttpCaller.request`: it is only read as `not refreshed`;
- `snapshot.exists or True` in `FirestoreStore.get`: a missing document's `to_dict()` is None,
  which `_from_doc` turns into None;
- `failure = "unknown"` changed in `IdempotencyGuard._write`: the line that logs it is reached
  only after every attempt raised, and each sets it to the exception's class first.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "build" / "mutate"
MUTMUT = Path(sys.executable).with_name("mutmut")

# The modules, and the mutants of each that are run (mutmut's names: module, then function).
SCOPE = {
    "webhooks/signature.py": "customerio_gcp.webhooks.signature.*",
    "idempotency/guard.py": "customerio_gcp.idempotency.guard.*",
    "idempotency/store.py": "customerio_gcp.idempotency.store.*",
    "idempotency/firestore_store.py": "customerio_gcp.idempotency.firestore_store.*",
    "customerio/transport.py": "customerio_gcp.customerio.transport.*",
    "customerio/errors.py (error_from_response)": "customerio_gcp.customerio.errors.x_error_from_response__mutmut_*",
    "errors.py": "customerio_gcp.errors.*",
    "delivery/handler.py": "customerio_gcp.delivery.handler.*",
}
DETECTED = {"killed", "timeout", "caught by type check"}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
LINKS = {"src": "shared/src", "tests": "tests", "pytest.ini": "pytest.ini", "setup.cfg": "setup.cfg"}


def prepare() -> None:
    """A fresh build/mutate/: results always reflect the code and tests as they are now."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    for name, target in LINKS.items():
        (WORK / name).symlink_to(os.path.relpath(REPO / target, WORK))


def run_quietly(command: list[str], env: dict[str, str]) -> int:
    """Run mutmut, passing its output through without the spinner: its progress line (rewritten
    with carriage returns many times a second) is shown once a minute."""
    process = subprocess.Popen(command, cwd=WORK, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    pending, last_progress, shown_at = b"", "", 0.0
    while chunk := process.stdout.read1(65536):
        *parts, pending = re.split(rb"[\r\n]", pending + chunk)
        for raw in parts:
            line = raw.decode(errors="replace").rstrip()
            if not line or line[0] in SPINNER:
                if "/" in line:
                    last_progress = line.lstrip(SPINNER + " ")
                    if time.monotonic() - shown_at > 60:
                        print("   ", last_progress, flush=True)
                        shown_at = time.monotonic()
                continue
            if not line.startswith("🎉 "):  # the per-mutant list: the report below has what matters
                print(line, flush=True)
    if last_progress:
        print("   ", last_progress, flush=True)
    return process.wait()


def module_of(name: str) -> str | None:
    import fnmatch

    for module, pattern in SCOPE.items():
        if fnmatch.fnmatchcase(name, pattern):
            return module
    return None


def results() -> dict[str, tuple[str, str]]:
    """Each mutant in scope: its status and, unless killed, mutmut's diff of it (read from
    mutmut's own records in build/mutate/mutants/, as `mutmut results` and `mutmut show` do)."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    found: dict[str, tuple[str, str]] = {}
    previous = Path.cwd()
    os.chdir(WORK)
    try:
        for path in walk_mutatable_files():
            data = SourceFileMutationData(path=path)
            data.load()
            for name, exit_code in data.exit_code_by_key.items():
                if module_of(name):
                    status = status_by_exit_code[exit_code]
                    diff = "" if status in DETECTED else get_diff_for_mutant(name, path=data.path)
                    found[name] = (status, diff)
    finally:
        os.chdir(previous)
    return found


def report(found: dict[str, tuple[str, str]], elapsed: float) -> None:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for name, (status, _diff) in found.items():
        by_module[module_of(name) or "?"][status] += 1
    survivors = sorted(name for name, (status, _diff) in found.items() if status not in DETECTED)
    if survivors:
        print("\n=== Mutants not killed (mutmut's diffs; `mutmut show NAME` in build/mutate shows one again) ===")
        for name in survivors:
            status, diff = found[name]
            print(f"# {name}: {status}")
            print(diff.rstrip())
            print()
    print("=== Mutation score (killed / total; a timeout counts as killed) ===")
    total_killed = total = 0
    for module in SCOPE:
        counts = by_module.get(module, Counter())
        n, k = sum(counts.values()), sum(counts[s] for s in DETECTED)
        total, total_killed = total + n, total_killed + k
        others = ", ".join(f"{c} {s}" for s, c in sorted(counts.items()) if s not in DETECTED)
        rate = f"{100 * k / n:5.1f}%" if n else "  n/a"
        print(f"  {module:<45} {k:4d} / {n:<4d} {rate}" + (f"   ({others})" if others else ""))
    rate = f"{100 * total_killed / total:.1f}%" if total else "n/a"
    print(f"  {'total':<45} {total_killed:4d} / {total:<4d} {rate}")
    print(f"  {len(survivors)} not killed; mutmut ran in {elapsed / 60:.1f} min")


def main() -> int:
    from customerio_gcp_local import emulators

    prepare()
    log_dir = Path(tempfile.mkdtemp(prefix="mutate-emulators-"))
    started = []
    try:
        pubsub = emulators.start_pubsub("customerio-gcp-test", log_dir)
        started.append(pubsub)
        firestore = emulators.start_firestore(log_dir)
        started.append(firestore)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "scripts"), env.get("PYTHONPATH")]))
        env["MUTATE_PUBSUB_HOST"], env["MUTATE_FIRESTORE_HOST"] = pubsub.host, firestore.host
        children = os.environ.get("MUTATE_CHILDREN", str(os.cpu_count() or 2))
        begin = time.monotonic()
        command = [str(MUTMUT), "run", "--max-children", children, *SCOPE.values()]
        returncode = run_quietly(command, env)
        elapsed = time.monotonic() - begin
        found = results()
        if not found:
            print(f"mutmut produced no results (exit {returncode})", file=sys.stderr)
            return 1
        report(found, elapsed)
        return 0
    finally:
        for emulator in reversed(started):
            emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
