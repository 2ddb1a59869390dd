"""The stand-in provider's validation (terraform/checks/standin_provider/validation.py): the real
provider's and the APIs' rules for every attribute this configuration sets, each with its source,
each refusing its planted mistakes, and the refusals reaching Terraform (validate and plans)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.terraform.harness import REPO, init, parse, terraform
from tests.terraform.rules import resources

spec = importlib.util.spec_from_file_location("validation", REPO / "terraform/checks/standin_provider/validation.py")
assert spec and spec.loader
validation = importlib.util.module_from_spec(spec)
sys.modules["validation"] = validation
spec.loader.exec_module(validation)

RULES = [r for r in validation.RULES if r.good or r.bad]


def config_at(path: str, value: Any) -> dict[str, Any]:
    """A resource configuration holding `value` at a dotted rule path ('*' = first element)."""
    steps = path.split(".")
    node: Any = value
    for step in reversed(steps):
        node = [node] if step == "*" else {step: node}
    assert isinstance(node, dict)
    return node


def rule_id(rule: Any) -> str:
    return f"{rule.resource}.{rule.path}"


def test_every_rule_names_its_source() -> None:
    for rule in validation.RULES:
        assert re.search(
            r"(hashicorp/terraform-provider-\w+ \S+\.go|magic-modules mmv1/\S+\.yaml|https://\S+)", rule.source
        ), rule
        assert rule.bad, f"{rule_id(rule)} has no planted mistake"


@pytest.mark.parametrize("rule", RULES, ids=[f"{rule_id(r)}#{i}" for i, r in enumerate(RULES)])
def test_rule_accepts_good_values_and_refuses_planted_ones(rule: Any) -> None:
    resource = "google_pubsub_topic" if rule.resource == "*" else rule.resource
    for good in rule.good:
        assert validation.validate(resource, config_at(rule.path, good)) == [], (rule_id(rule), good)
    for bad in rule.bad:
        problems = validation.validate(resource, config_at(rule.path, bad))
        assert problems, f"{rule_id(rule)} accepted the planted mistake {bad!r}"
        assert all(p.rule.source for p in problems)


def test_cross_field_rules_refuse_planted_mistakes() -> None:
    assert validation.validate(
        "google_cloudfunctions2_function",
        {"service_config": [{"max_instance_request_concurrency": 80, "available_cpu": "0.5"}]},
    ), "concurrency above 1 with less than one CPU"
    assert validation.validate(
        "google_pubsub_subscription", {"retry_policy": [{"minimum_backoff": "60s", "maximum_backoff": "10s"}]}
    ), "minimum backoff above maximum"
    assert validation.validate(
        "google_pubsub_subscription",
        {"push_config": [{"push_endpoint": "https://x"}], "bigquery_config": [{"table": "p:d.t"}]},
    ), "push and BigQuery delivery on one subscription"


def test_unknown_values_are_left_for_the_plan() -> None:
    assert validation.validate("google_service_account", {"account_id": validation.UNKNOWN}) == []
    assert (
        validation.validate(
            "google_pubsub_subscription", {"dead_letter_policy": [{"max_delivery_attempts": validation.UNKNOWN}]}
        )
        == []
    )


# Attributes this configuration sets that neither the provider nor the API constrains beyond their
# type (free text, references checked elsewhere), so they need no rule. Anything else must have one.
UNCONSTRAINED = {
    # free text, booleans and numbers the APIs take as they come
    "display_name",
    "description",
    "force_destroy",
    "uniform_bucket_level_access",
    "disable_on_destroy",
    "deletion_protection",
    "retain_acked_messages",
    "use_legacy_sql",
    "all_traffic_on_latest_revision",
    "use_table_schema",
    "drop_unknown_fields",
    "write_metadata",
    "enabled",
    "threshold_value",
    "content",
    "age",
    "expiration_ms",
    "num_finite_buckets",
    "growth_factor",
    "scale",
    "unit",
    "entry_point",
    "audience",
    # references to resources this configuration creates (their own rules check them where set)
    "project",
    "service_account_email",
    "notification_channels",
    "triggers",
    "group_by_fields",
    # containers: their attributes are checked one by one
    "condition_threshold",
    "aggregations",
    "documentation",
    "conditions",
    "versioning",
    "lifecycle_rule",
    "action",
    "condition",
    "replication",
    "auto",
    "metric_descriptor",
    "bucket_options",
    "exponential_buckets",
    "time_partitioning",
    "view",
    "build_config",
    "service_config",
    "source",
    "storage_source",
    "push_config",
    "oidc_token",
    "retry_policy",
    "dead_letter_policy",
    "expiration_policy",
    "ttl_config",
    "bigquery_config",
    # Cloud Logging filter language and extractors: checked by the API only when the metric is created
    "filter",
    "value_extractor",
    "label_extractors",
    "key",
}
# Per resource: identifiers of objects that exist before (references by name), free-form names.
UNCONSTRAINED_BY_RESOURCE = {
    ("google_storage_bucket", "location"),
    ("google_bigquery_dataset", "location"),
    ("google_artifact_registry_repository", "location"),
    ("google_firestore_database", "location_id"),
    ("google_firestore_database", "name"),
    ("google_firestore_field", "database"),
    ("google_firestore_field", "collection"),
    ("google_firestore_field", "field"),
    ("google_storage_bucket_object", "bucket"),
    ("google_storage_bucket_object", "source"),
    ("google_storage_bucket_iam_member", "bucket"),
    ("google_pubsub_topic_iam_member", "topic"),
    ("google_pubsub_subscription_iam_member", "subscription"),
    ("google_secret_manager_secret_iam_member", "secret_id"),
    ("google_service_account_iam_member", "service_account_id"),
    ("google_cloud_run_service_iam_member", "location"),
    ("google_artifact_registry_repository_iam_member", "repository"),
    ("google_artifact_registry_repository_iam_member", "location"),
    ("google_bigquery_dataset_iam_member", "dataset_id"),
    ("google_bigquery_table_iam_member", "dataset_id"),
    ("google_bigquery_table_iam_member", "table_id"),
    ("google_cloudfunctions2_function", "bucket"),
    ("google_cloudfunctions2_function", "object"),
    ("google_cloudfunctions2_function", "labels"),
    ("time_sleep", "triggers"),
    ("google_bigquery_table", "field"),
}
# (Attributes named in a rule are checked against it; the set above lists the rest.)


def test_every_attribute_set_has_a_rule_or_is_unconstrained() -> None:
    ruled = {(r.resource, r.path.replace(".*", "").split(".")[-1]) for r in validation.RULES}
    missing = set()

    def walk(kind: str, body: dict[str, Any]) -> None:
        for key, value in body.items():
            if key.startswith("__") or key in ("for_each", "count", "depends_on", "lifecycle", "provider", "dynamic"):
                continue
            known = (kind, key) in ruled or ("*", key) in ruled or (kind, key) in UNCONSTRAINED_BY_RESOURCE
            if not known and key not in UNCONSTRAINED:
                missing.add(f"{kind}.{key}")
            for block in value if isinstance(value, list) else [value]:
                if isinstance(block, dict) and block.get("__is_block__"):
                    walk(kind, block)

    for _, kind, _, body in resources(parse(REPO / "terraform")):
        if kind.startswith(("google_", "time_")):
            walk(kind, body)
    assert not missing, f"attributes set with no validation rule and not declared unconstrained: {sorted(missing)}"


# --- the rules reach Terraform ------------------------------------------------------------------

PLANTED = """
resource "google_service_account" "planted" {
  account_id = "fn-customerio-staging-webhook-"
}
resource "google_bigquery_dataset" "planted" {
  dataset_id = "customerio-events"
}
resource "google_pubsub_subscription" "planted" {
  name                       = "planted"
  topic                      = "projects/acme/topics/planted"
  ack_deadline_seconds       = 5
  message_retention_duration = "2764800s"
  dead_letter_policy {
    dead_letter_topic     = "projects/acme/topics/planted-dead-letter"
    max_delivery_attempts = 4
  }
}
resource "google_cloudfunctions2_function" "planted" {
  name     = "planted-function"
  location = "europe-west1"
  build_config {
    runtime = "python3.12"
  }
  service_config {
    ingress_settings = "INTERNAL_ONLY"
    available_memory = "256MB"
    timeout_seconds  = 600
  }
}
"""


def test_validate_refuses_planted_values_with_the_providers_rules(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'terraform {\n  required_providers {\n    google = { source = "hashicorp/google", version = "6.50.0" }\n  }\n}\n'
        + PLANTED
    )
    assert init(tmp_path).code == 0
    result = terraform(tmp_path, "validate")
    text = " ".join(result.text.split())
    assert result.code != 0
    for expected in [
        "'fn-customerio-staging-webhook-' is not a service-account id",
        "'customerio-events' may hold only letters, digits and underscores",
        "5 is outside 10..600",
        "'2764800s' is outside 600s..2678400s",
        "4 is outside 5..100",
        "'INTERNAL_ONLY' is not one of ALLOW_ALL, ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB",
        "'python3.12' is not one of",
        "'256MB' is not a memory size",
    ]:
        assert expected in text, f"{expected!r} not reported:\n{result.text}"
    assert "resource_google_service_account.go" in text, "diagnostics cite their source"
