"""cloudbuild.yaml runs as written: each step's commands exist in its image (manifest:
terraform/checks/cloudbuild-images.json); pull-request builds only test and plan, without the
state lock; each environment has its own state; prod is applied only by its gated trigger."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.terraform import cloudbuild_check
from tests.terraform.harness import REPO

BUILD = REPO / "cloudbuild.yaml"


def script(step_id: str) -> str:
    step = next(s for s in cloudbuild_check.load_yaml(BUILD)["steps"] if s["id"] == step_id)
    return str(step["args"][-1])


def test_every_step_runs_in_its_image() -> None:
    assert cloudbuild_check.check(BUILD) == []


# Set by Cloud Build itself (pull-request triggers add _PR_NUMBER, _HEAD_BRANCH, _BASE_BRANCH).
BUILT_IN = {"_PR_NUMBER", "_HEAD_BRANCH", "_BASE_BRANCH", "_HEAD_REPO_URL"}


def undeclared_substitutions(path: Path) -> set[str]:
    declared = set(cloudbuild_check.load_yaml(path)["substitutions"]) | BUILT_IN
    used = re.findall(r"\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)", path.read_text().replace("$$", ""))
    return {a or b for a, b in used} - declared


def test_every_substitution_is_declared_or_built_in(tmp_path: Path) -> None:
    """ALLOW_LOOSE turns an unknown substitution into an empty string: a typo must fail here."""
    assert undeclared_substitutions(BUILD) == set()
    planted = tmp_path / "cloudbuild.yaml"
    planted.write_text(
        BUILD.read_text().replace("envs/${_ENV}/terraform.tfvars", "envs/${_ENVIRONMENT}/terraform.tfvars", 1)
    )
    assert undeclared_substitutions(planted) == {"_ENVIRONMENT"}


def test_pull_request_builds_plan_without_lock_and_never_apply() -> None:
    plan, apply = script("plan"), script("apply")
    assert 'if [ -n "${_PR_NUMBER}" ]' in plan and "-lock=false" in plan
    first = apply.strip().splitlines()[0]
    assert "_PR_NUMBER" in first and "exit 0" in first, "the apply step stops first of all for pull requests"
    assert "customerio-gcp-prod" in apply, "prod is applied only by its approval-gated trigger"


def test_plan_and_apply_use_the_environments_own_backend() -> None:
    for step_id in ("plan", "apply"):
        assert "-backend-config=envs/${_ENV}/backend.hcl" in script(step_id)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "        python3 -m venv /workspace/.uv\n        /workspace/.uv/bin/pip install",
            "        python3 -m pip install",
            "python3 -m pip is not available",
        ),
        (
            "apt-get install -y -qq --no-install-recommends make python3-venv",
            "apt-get install -y -qq --no-install-recommends python3-venv",
            ".ci/run needs make",
        ),
        (
            "  - id: plan\n    name: ${_TERRAFORM_IMAGE}\n    entrypoint: sh",
            '  - id: package\n    name: ${_CLI_IMAGE}\n    entrypoint: bash\n    args: ["-ceu", "make package"]\n\n'
            "  - id: plan\n    name: ${_TERRAFORM_IMAGE}\n    entrypoint: sh",
            "step package: make is not in",
        ),
        (
            "  - id: plan\n    name: ${_TERRAFORM_IMAGE}\n    entrypoint: sh",
            "  - id: plan\n    name: ${_TERRAFORM_IMAGE}\n    entrypoint: bash",
            "entrypoint bash is not in hashicorp/terraform",
        ),
        (
            "        /workspace/.uv/bin/uv python install 3.13\n",
            "",
            "needs python3.13",
        ),
    ],
    ids=[
        "pip-without-pip",
        "ci-run-without-make",
        "package-step-without-make",
        "bash-in-terraform-image",
        "no-python-3.13",
    ],
)
def test_a_planted_step_that_cannot_run_is_caught(tmp_path: Path, old: str, new: str, expected: str) -> None:
    text = BUILD.read_text()
    assert old in text, f"the planted mistake's anchor moved: {old!r}"
    planted = tmp_path / "cloudbuild.yaml"
    planted.write_text(text.replace(old, new, 1))
    problems = cloudbuild_check.check(planted)
    assert any(expected in p for p in problems), problems
