"""Every derived name and id, listed for dev, staging and prod, checked against what Terraform
plans for each environment; and the staging mistake of issue 15 (a service-account id cut to 27
characters ending in '-') failing the environment tests through the stand-in provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.terraform.harness import copy_tree, init, terraform

PROJECTS = {
    "dev": "my-company-customerio-dev",
    "staging": "my-company-customerio-stg",
    "prod": "my-company-customerio-prod",
}
EXPECTED = {
    env: {
        "service_accounts": {
            "build": f"cio-{env}-build",
            "identify": f"cio-{env}-identify",
            "push": f"cio-{env}-push",
            "track": f"cio-{env}-track",
            "transactional": f"cio-{env}-transactional",
            "webhook": f"cio-{env}-webhook",
        },
        "functions": {
            "identify": f"customerio-{env}-identify",
            "track": f"customerio-{env}-track",
            "transactional": f"customerio-{env}-transactional",
            "webhook": f"customerio-{env}-webhook-ingest",
        },
        "source_bucket": f"{PROJECTS[env]}-{env}-fn-src",
        "repository": f"customerio-{env}-functions",
    }
    for env in PROJECTS
}
# Spelled out for the longest environment name, so a reviewer sees what staging gets.
assert EXPECTED["staging"]["service_accounts"]["transactional"] == "cio-staging-transactional"  # 25 of 30
assert EXPECTED["staging"]["functions"]["webhook"] == "customerio-staging-webhook-ingest"  # 33 of 49


def names_test(expected: dict[str, object]) -> str:
    return (
        'mock_provider "google" {\n'
        '  mock_resource "google_cloudfunctions2_function" {\n'
        '    defaults = { service_config = { uri = "https://fn.a.run.app", service = "projects/p/locations/r/services/fn" } }\n'
        "  }\n"
        '  mock_data "google_project" {\n    defaults = { number = "123456789012" }\n  }\n}\n'
        'mock_provider "time" {}\n'
        'run "names" {\n  command = plan\n'
        f"  assert {{\n    condition     = jsonencode(output.names) == jsonencode(jsondecode({json.dumps(json.dumps(expected))}))\n"
        '    error_message = "names: ${jsonencode(output.names)}"\n  }\n}\n'
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, packaged: Path) -> Path:
    root = copy_tree(tmp_path_factory.mktemp("names"))
    for env, expected in EXPECTED.items():
        folder = root / "tests" / f"names_{env}"
        folder.mkdir()
        (folder / "names.tftest.hcl").write_text(names_test(expected))
    assert init(root).code == 0
    return root


@pytest.mark.parametrize("environment", list(EXPECTED))
def test_names_per_environment(tree: Path, environment: str) -> None:
    var_file = tree / "envs" / environment / "terraform.tfvars"
    result = terraform(tree, "test", f"-test-directory=tests/names_{environment}", f"-var-file={var_file}")
    assert result.code == 0 and result.passed_and_failed() == (1, 0), result.text


def test_the_staging_hyphen_fails_the_environment_test(tmp_path: Path, packaged: Path) -> None:
    root = copy_tree(tmp_path)
    # Plant issue 15's mistake: the function module cutting its own account id from the name.
    module = root / "modules/function/main.tf"
    text = module.read_text()
    assert "account_id   = var.service_account_id" in text
    module.write_text(
        text.replace("account_id   = var.service_account_id", 'account_id   = "fn-${substr(var.name, 0, 27)}"')
    )
    assert init(root).code == 0

    def environment_test(env: str) -> str:
        var_file = root / "envs" / env / "terraform.tfvars"
        result = terraform(root, "test", "-test-directory=tests/environments", f"-var-file={var_file}")
        return " ".join(result.text.split()) if result.code != 0 else ""

    failure = environment_test("staging")
    assert "'fn-customerio-staging-webhook-' is not a service-account id" in failure, failure
    assert environment_test("dev") == "", "dev's ids happen to be valid: the mistake shows only in staging"
