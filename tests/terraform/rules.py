"""Project rules that neither `terraform validate` nor checkov knows, over the parsed configuration.

Each rule takes the parsed files (`harness.parse`) and returns its violations as sentences; an
empty list means the rule holds. Tests run each on the real tree and on a planted mistake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Parsed = dict[Path, dict[str, Any]]
BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}


def resources(parsed: Parsed) -> Iterator[tuple[Path, str, str, dict[str, Any]]]:
    for path, doc in parsed.items():
        for entry in doc.get("resource", []):
            for kind, named in entry.items():
                for name, body in named.items():
                    yield path, kind, name, body


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def push_subscriptions_retry_and_dead_letter(parsed: Parsed) -> list[str]:
    problems = []
    for path, kind, name, body in resources(parsed):
        if kind == "google_pubsub_subscription" and blocks(body, "push_config"):
            for needed in ("retry_policy", "dead_letter_policy"):
                if not blocks(body, needed):
                    problems.append(f"{path.name}: {kind}.{name} pushes without a {needed}")
    return problems


def service_agent_grants(parsed: Parsed) -> list[str]:
    """Every module with push subscriptions grants Pub/Sub's service agent
    publisher on the dead-letter topics and subscriber on the subscriptions, for the same keys."""
    problems = []
    by_file: dict[Path, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, kind, name, body in resources(parsed):
        by_file.setdefault(path, []).append((kind, name, body))
    for path, items in by_file.items():
        pushes = [(n, b) for k, n, b in items if k == "google_pubsub_subscription" and blocks(b, "push_config")]
        if not pushes:
            continue
        grants = [
            (k, b)
            for k, _, b in items
            if k in ("google_pubsub_topic_iam_member", "google_pubsub_subscription_iam_member")
        ]
        agent = [(k, b) for k, b in grants if "gcp-sa-pubsub" in json.dumps(b) or "service_agent" in json.dumps(b)]
        roles = {(k, b.get("role")) for k, b in agent}
        if ("google_pubsub_topic_iam_member", "roles/pubsub.publisher") not in roles:
            problems.append(f"{path.name}: Pub/Sub's service agent is not granted publisher on the dead-letter topics")
        if ("google_pubsub_subscription_iam_member", "roles/pubsub.subscriber") not in roles:
            problems.append(
                f"{path.name}: Pub/Sub's service agent is not granted subscriber on the source subscriptions"
            )
        push_each = {json.dumps(b.get("for_each"), sort_keys=True) for _, b in pushes}
        agent_each = {json.dumps(b.get("for_each"), sort_keys=True) for _, b in agent}
        if not push_each <= agent_each:
            problems.append(f"{path.name}: the service-agent grants do not cover every push subscription")
    return problems


def bigquery_subscriptions_wait_for_agent_grants(parsed: Parsed) -> list[str]:
    """A BigQuery subscription is created only after Pub/Sub's service agent may write to its
    dataset (dataEditor) and read the table's schema (metadataViewer): otherwise creation fails, or
    every message is dead-lettered until the grant lands."""
    problems = []
    grants = {
        name: body
        for _, kind, name, body in resources(parsed)
        if kind == "google_bigquery_dataset_iam_member" and "service_agent" in json.dumps(body)
    }
    for path, kind, name, body in resources(parsed):
        if kind != "google_pubsub_subscription" or not blocks(body, "bigquery_config"):
            continue
        depends = json.dumps(body.get("depends_on", []))
        if not any(f"google_bigquery_dataset_iam_member.{grant}" in depends for grant in grants):
            problems.append(f"{path.name}: {kind}.{name} does not depend on the service agent's dataset grants")
        roles = json.dumps([g.get("for_each", g.get("role")) for g in grants.values()])
        for role in ("roles/bigquery.dataEditor", "roles/bigquery.metadataViewer"):
            if role not in roles:
                problems.append(f"{path.name}: Pub/Sub's service agent lacks {role} on the dataset of {kind}.{name}")
    return problems


def no_secret_values(parsed: Parsed) -> list[str]:
    problems = []
    for path, kind, name, body in resources(parsed):
        if kind == "google_secret_manager_secret_version" or "secret_data" in body:
            problems.append(f"{path.name}: {kind}.{name} puts a secret value into code and state")
    for path, doc in parsed.items():
        for entry in doc.get("variable", []):
            for name, body in entry.items():
                if re.search(r"(key|secret|token|password)", name) and "default" in body:
                    problems.append(f"{path.name}: variable {name} looks like a secret and has a default")
        if path.suffix == ".tfvars":
            for key in doc:
                if re.search(r"(api_key|secret|token|password)", key):
                    problems.append(f"{path.name}: {key} must not be set in a tfvars file")
        for locals_block in doc.get("locals", []):
            for key, value in locals_block.items():
                if isinstance(value, str) and re.search(r"(api_key|signing_key)\s*=\s*\S", value):
                    problems.append(f"{path.name}: local {key} inlines a key")
    return problems


def functions_have_own_service_accounts(parsed: Parsed) -> list[str]:
    problems = []
    for path, kind, name, body in resources(parsed):
        if kind in ("google_cloudfunctions2_function", "google_cloudfunctions_function"):
            configs = blocks(body, "service_config")
            account = configs[0].get("service_account_email", "") if configs else body.get("service_account_email", "")
            if not str(account).startswith("${google_service_account."):
                problems.append(f"{path.name}: {kind}.{name} does not run as a service account created for it")
    return problems


def no_basic_roles(parsed: Parsed) -> list[str]:
    problems = []
    for path, kind, name, body in resources(parsed):
        text = json.dumps(body)
        for role in BASIC_ROLES:
            if f'"{role}"' in text:
                problems.append(f"{path.name}: {kind}.{name} uses the basic role {role}")
    return problems


def tfvars_set_only_declared_variables(parsed: Parsed, root: Path) -> list[str]:
    declared = {
        name
        for path, doc in parsed.items()
        if path.parent == root
        for entry in doc.get("variable", [])
        for name in entry
    }
    problems = []
    for path, doc in parsed.items():
        if path.suffix == ".tfvars":
            for key in doc:
                if not key.startswith("__") and key not in declared:
                    problems.append(f"{path.relative_to(root)}: sets {key}, which the root module does not declare")
    return problems


def pipeline_settings_from_the_shared_file(parsed: Parsed, root: Path, pipeline: dict[str, Any]) -> list[str]:
    """Topic names and delivery settings are read from pipeline.json, never typed into .tf files."""
    problems = []
    main = parsed.get(root / "main.tf", {})
    locals_text = json.dumps(main.get("locals", []))
    if "shared/src/customerio_gcp/pipeline.json" not in locals_text:
        problems.append("main.tf does not read shared/src/customerio_gcp/pipeline.json")
    webhook = pipeline["webhook"]
    names = [spec["topic"] for spec in pipeline["topics"].values()] + [
        pipeline["webhook"]["events_topic"],
        pipeline["webhook"]["quarantine_topic"],
    ]
    names += [webhook[k] for k in ("quarantine_topic", "quarantine_subscription", "routing_subscription")]
    for path, kind, name, body in resources(parsed):
        text = json.dumps(body)
        for topic in names:
            if f'"{topic}' in text:
                problems.append(f"{path.name}: {kind}.{name} hard-codes topic {topic}")
        if kind == "google_pubsub_subscription":
            for policy in blocks(body, "retry_policy") + blocks(body, "dead_letter_policy"):
                for key, value in policy.items():
                    if not key.startswith("__") and not str(value).startswith("${") and "${" not in str(value):
                        problems.append(f"{path.name}: {kind}.{name} hard-codes {key} = {value}")
    return problems


def log_metrics_count_excluded_lines(parsed: Parsed) -> list[str]:
    """The success-lines exclusion keeps only a sample in storage; the log-based metrics stay exact
    only as project metrics, which Cloud Logging computes from every entry received. A metric on a
    log bucket (`bucket_name`) counts only what the bucket stores, so it would lose the excluded lines."""
    problems = []
    for path, kind, name, body in resources(parsed):
        if kind == "google_logging_metric" and body.get("bucket_name") is not None:
            problems.append(
                f"{path.name}: {kind}.{name} is bucket-scoped: it would not count the success lines excluded from storage"
            )
    return problems
