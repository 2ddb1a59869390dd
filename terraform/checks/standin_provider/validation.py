"""What the real google provider (and the APIs behind it) refuse, for every attribute this
configuration sets: the stand-in provider answers `ValidateResourceConfig` with these rules.

Terraform calls `ValidateResourceConfig` twice: at `terraform validate` (values from variables are
still unknown and are skipped here) and again during every plan with the final values, also
under `mock_provider` in `terraform test`, which passes validation through to this provider. So a
value derived per environment (a service-account id built from the environment's name) is checked
by the environment tests.

Each rule names its source: a file in hashicorp/terraform-provider-google (or the Magic Modules
definition it is generated from) or the API's documentation. Each carries values it must accept
and values it must refuse; tests/terraform/test_validation.py plants every refused value.

Pure Python (re, json): the provider's own venv and the project's test venv both import it.
"""
# The rule table keeps one rule per few lines, with its source spelled out whole.
# ruff: noqa: E501

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

PROVIDER = "hashicorp/terraform-provider-google"
MM = "GoogleCloudPlatform/magic-modules"


class Unknown:
    """A value Terraform does not know yet (msgpack extension 0): never validated."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()
Check = Callable[[Any], str | None]


# --- checks: each returns None when the value is acceptable, else what is wrong ---------------


def pattern(regex: str, what: str, flags: int = 0) -> Check:
    compiled = re.compile(regex, flags)

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        return None if compiled.fullmatch(value) else f"{value!r} {what} (must match {regex})"

    return check


def length(low: int, high: int, unit: str = "characters") -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        size = len(value.encode()) if unit == "bytes" else len(value)
        return None if low <= size <= high else f"{value!r} is {size} {unit} long (must be {low}-{high})"

    return check


def enum(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        return None if value in allowed else f"{value!r} is not one of {', '.join(allowed)}"

    return check


def int_range(low: int | None, high: int | None) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            return f"{value} is outside {low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        if value != int(value):
            return f"{value} is not a whole number"
        return None

    return check


DURATION = re.compile(r"^(\d+)(\.\d{1,9})?s$")


def seconds(low: float, high: float, allow_empty: bool = False) -> Check:
    """A protobuf Duration as the APIs take it: seconds with up to nine decimals and an 's'."""

    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        if value == "" and allow_empty:
            return None
        match = DURATION.fullmatch(value)
        if not match:
            return f"{value!r} is not a duration like \"600s\" (seconds, up to nine decimals, then 's')"
        amount = float(match.group(1) + (match.group(2) or ""))
        return None if low <= amount <= high else f"{value!r} is outside {low:.0f}s..{high:.0f}s"

    return check


GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def go_duration(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return None if GO_DURATION.fullmatch(value) else f'{value!r} is not a duration such as "30s" or "10m"'


def json_document(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        json.loads(value)
    except ValueError as error:
        return f"not valid JSON: {error}"
    return None


BIGQUERY_TYPES = (
    "STRING", "BYTES", "INTEGER", "INT64", "FLOAT", "FLOAT64", "NUMERIC", "BIGNUMERIC", "BOOLEAN", "BOOL",
    "TIMESTAMP", "DATE", "TIME", "DATETIME", "INTERVAL", "GEOGRAPHY", "RECORD", "STRUCT", "RANGE", "JSON",
)  # fmt: skip
BIGQUERY_MODES = ("NULLABLE", "REQUIRED", "REPEATED")
BIGQUERY_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")


def bigquery_schema(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        fields = json.loads(value)
    except ValueError as error:
        return f"schema is not valid JSON: {error}"

    def walk(items: Any, where: str) -> Iterator[str]:
        if not isinstance(items, list):
            yield f"{where or 'schema'} must be a JSON array of fields"
            return
        for item in items:
            name = item.get("name", "")
            if not BIGQUERY_COLUMN.fullmatch(name):
                yield f"column name {name!r} must match {BIGQUERY_COLUMN.pattern}"
            kind = str(item.get("type", "")).upper()
            if kind not in BIGQUERY_TYPES:
                yield f"column {where}{name} has type {item.get('type')!r}, not one of {', '.join(BIGQUERY_TYPES)}"
            mode = str(item.get("mode", "NULLABLE")).upper()
            if mode not in BIGQUERY_MODES:
                yield f"column {where}{name} has mode {item.get('mode')!r}, not one of {', '.join(BIGQUERY_MODES)}"
            if kind in ("RECORD", "STRUCT"):
                yield from walk(item.get("fields"), f"{where}{name}.")

    problems = list(walk(fields, ""))
    return "; ".join(problems) if problems else None


def labels(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    problems = []
    if len(value) > 64:
        problems.append(f"{len(value)} labels (at most 64)")
    for key, item in value.items():
        if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", key):
            problems.append(f"label key {key!r} must match [a-z][a-z0-9_-]{{0,62}}")
        if isinstance(item, str) and not re.fullmatch(r"[a-z0-9_-]{0,63}", item):
            problems.append(f"label {key}={item!r}: values must match [a-z0-9_-]{{0,63}}")
    return "; ".join(problems) or None


RESERVED_ENV = {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}


def environment_variables(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    problems = []
    for key in value:
        if key in RESERVED_ENV or key.startswith("X_GOOGLE_"):
            problems.append(f"{key} is reserved by Cloud Run")
        elif not key or "=" in key:
            problems.append(f"{key!r} is not an environment variable name")
    return "; ".join(problems) or None


def every(*checks: Check) -> Check:
    def check(value: Any) -> str | None:
        for one in checks:
            problem = one(value)
            if problem:
                return problem
        return None

    return check


def list_of(check: Check, most: int | None = None) -> Check:
    def inner(value: Any) -> str | None:
        if not isinstance(value, list):
            return None
        if most is not None and len(value) > most:
            return f"{len(value)} items (at most {most})"
        for item in value:
            problem = check(item)
            if problem:
                return problem
        return None

    return inner


# --- the rules --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    resource: str  # a resource type, or "*" for every resource that has the attribute
    path: str  # attribute path; "*" steps into every element of a nested block or list
    check: Check = field(compare=False)
    source: str
    good: tuple[Any, ...]
    bad: tuple[Any, ...]


RFC1035_SA = r"[a-z](?:[-a-z0-9]{4,28}[a-z0-9])"
PUBSUB_NAME = every(
    pattern(r"[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}", "is not a Pub/Sub resource name"),
    lambda v: f"{v!r} starts with 'goog'" if isinstance(v, str) and v.lower().startswith("goog") else None,
)
PUBSUB_NAMES_DOC = "https://cloud.google.com/pubsub/docs/pubsub-basics#resource_names"
MEMBER = pattern(
    r"(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|principal|principalSet|"
    r"deleted:serviceAccount):[^\s]+)",
    "is not an IAM member",
)
ROLE = pattern(
    r"(roles/[A-Za-z0-9_.]+|projects/[^/]+/roles/[A-Za-z0-9_.]+|organizations/\d+/roles/[A-Za-z0-9_.]+)",
    "is not a role",
)
IAM_DOC = "https://cloud.google.com/iam/docs/reference/rest/v1/Policy#Binding (members, role)"
GOOD_MEMBER = ("serviceAccount:cio-dev-track@acme-dev.iam.gserviceaccount.com", "allUsers")
BAD_MEMBER = ("cio-dev-track@acme-dev.iam.gserviceaccount.com", "serviceaccount:x@y")
IAM_RESOURCES = (
    "google_project_iam_member", "google_pubsub_topic_iam_member", "google_pubsub_subscription_iam_member",
    "google_secret_manager_secret_iam_member", "google_cloud_run_service_iam_member", "google_service_account_iam_member",
    "google_storage_bucket_iam_member", "google_bigquery_dataset_iam_member", "google_bigquery_table_iam_member",
    "google_artifact_registry_repository_iam_member",
)  # fmt: skip
ALIGNERS = (
    "ALIGN_NONE", "ALIGN_DELTA", "ALIGN_RATE", "ALIGN_INTERPOLATE", "ALIGN_NEXT_OLDER", "ALIGN_MIN", "ALIGN_MAX",
    "ALIGN_MEAN", "ALIGN_COUNT", "ALIGN_SUM", "ALIGN_STDDEV", "ALIGN_COUNT_TRUE", "ALIGN_COUNT_FALSE",
    "ALIGN_FRACTION_TRUE", "ALIGN_PERCENTILE_99", "ALIGN_PERCENTILE_95", "ALIGN_PERCENTILE_50",
    "ALIGN_PERCENTILE_05", "ALIGN_PERCENT_CHANGE",
)  # fmt: skip
REDUCERS = (
    "REDUCE_NONE", "REDUCE_MEAN", "REDUCE_MIN", "REDUCE_MAX", "REDUCE_SUM", "REDUCE_STDDEV", "REDUCE_COUNT",
    "REDUCE_COUNT_TRUE", "REDUCE_COUNT_FALSE", "REDUCE_FRACTION_TRUE", "REDUCE_PERCENTILE_99",
    "REDUCE_PERCENTILE_95", "REDUCE_PERCENTILE_50", "REDUCE_PERCENTILE_05",
)  # fmt: skip
ALERT_MM = f"{MM} mmv1/products/monitoring/AlertPolicy.yaml (enum values)"

# fmt: off
RULES: tuple[Rule, ...] = (
    # IAM service accounts
    Rule("google_service_account", "account_id", pattern(RFC1035_SA, "is not a service-account id (6-30 characters, RFC 1035)"),
         f"{PROVIDER} google/services/resourcemanager/resource_google_service_account.go: "
         "verify.ValidateRFC1035Name(6, 30); google/verify/validation.go RFC1035NameTemplate",
         ("cio-staging-webhook", "cio-dev-push"), ("fn-customerio-staging-webhook-", "cio-x", "Cio-dev-push", "1cio-dev-push")),
    Rule("google_service_account", "description", length(0, 256, "bytes"),
         f"{PROVIDER} google/services/resourcemanager/resource_google_service_account.go: validation.StringLenBetween(0, 256)",
         ("Pushes to the delivery functions",), ("x" * 257,)),
    # Cloud Storage
    Rule("google_storage_bucket", "name", every(
        pattern(r"[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]", "is not a bucket name"),
        lambda v: f"{v!r} contains 'google' or starts with 'goog'" if isinstance(v, str) and ("google" in v or v.startswith("goog")) else None,
    ), "https://cloud.google.com/storage/docs/buckets#naming (3-63 characters; lower-case letters, digits, -, _ and .; "
       "begins and ends with a letter or digit; no 'goog' prefix, no 'google')",
         ("acme-customerio-dev-sources",), ("Acme-sources", "acme-sources-", "ab", "googbucket-x", "x" * 64)),
    Rule("google_storage_bucket", "public_access_prevention", enum("enforced", "inherited"),
         f"{PROVIDER} google/services/storage/resource_storage_bucket.go public_access_prevention (enforced, inherited)",
         ("enforced",), ("on",)),
    Rule("google_storage_bucket", "lifecycle_rule.*.action.*.type", enum("Delete", "SetStorageClass", "AbortIncompleteMultipartUpload"),
         f"{PROVIDER} google/services/storage/resource_storage_bucket.go lifecycle_rule.action.type",
         ("Delete",), ("delete",)),
    Rule("google_storage_bucket", "lifecycle_rule.*.condition.*.num_newer_versions", int_range(0, None),
         f"{PROVIDER} google/services/storage/resource_storage_bucket.go lifecycle_rule.condition.num_newer_versions (a count, not negative)",
         (20,), (-1,)),
    Rule("google_storage_bucket", "lifecycle_rule.*.condition.*.age", int_range(0, None),
         "https://cloud.google.com/storage/docs/lifecycle#age (days, a non-negative integer)", (30,), (-1,)),
    Rule("google_storage_bucket_object", "name", every(
        length(1, 1024, "bytes"),
        lambda v: "object names may not contain carriage returns or line feeds" if isinstance(v, str) and re.search(r"[\r\n]", v) else None,
    ), "https://cloud.google.com/storage/docs/objects#naming (1-1024 bytes of UTF-8, no CR or LF)",
         ("functions/track-0123.zip",), ("", "a\nb")),
    # Pub/Sub
    Rule("google_pubsub_topic", "name", PUBSUB_NAME, PUBSUB_NAMES_DOC,
         ("customerio-track", "customerio-track-dead-letter"), ("c", "1topic", "goog-topic", "customerio track")),
    Rule("google_pubsub_topic", "message_retention_duration", seconds(600, 2678400),
         f"{MM} mmv1/products/pubsub/Topic.yaml messageRetentionDuration: 'Cannot be more than 31 days or less than 10 minutes'",
         ("604800s", "2678400s"), ("86400", "2678401s", "599s", "7d")),
    Rule("google_pubsub_subscription", "name", PUBSUB_NAME, PUBSUB_NAMES_DOC,
         ("customerio-track-push",), ("goog-sub", "-sub")),
    Rule("google_pubsub_subscription", "topic",
         pattern(r"(projects/[^/]+/topics/)?[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}", "is not a topic name or id"),
         PUBSUB_NAMES_DOC, ("projects/acme/topics/customerio-track", "customerio-track"), ("projects/acme/subscriptions/x",)),
    Rule("google_pubsub_subscription", "ack_deadline_seconds", int_range(10, 600),
         f"{PROVIDER} google/services/pubsub/resource_pubsub_subscription.go ack_deadline_seconds: "
         "'The minimum custom deadline you can specify is 10 seconds. The maximum ... is 600 seconds'",
         (10, 60, 600), (5, 601)),
    Rule("google_pubsub_subscription", "message_retention_duration", seconds(600, 2678400),
         "https://cloud.google.com/pubsub/docs/subscription-properties#message_retention_duration "
         "(minimum 10 minutes, maximum 31 days; the provider's description still says 7 days)",
         ("604800s", "2678400s"), ("300s", "2678401s", "7d")),
    Rule("google_pubsub_subscription", "retry_policy.*.minimum_backoff", seconds(0, 600),
         f"{PROVIDER} google/services/pubsub/resource_pubsub_subscription.go retry_policy: 'between 0 and 600 seconds'",
         ("10s", "0s"), ("601s", "10")),
    Rule("google_pubsub_subscription", "retry_policy.*.maximum_backoff", seconds(0, 600),
         f"{PROVIDER} google/services/pubsub/resource_pubsub_subscription.go retry_policy: 'between 0 and 600 seconds'",
         ("600s",), ("900s", "10m")),
    Rule("google_pubsub_subscription", "dead_letter_policy.*.max_delivery_attempts", int_range(5, 100),
         f"{PROVIDER} google/services/pubsub/resource_pubsub_subscription.go dead_letter_policy.max_delivery_attempts: "
         "'The value must be between 5 and 100'",
         (5, 100), (4, 101)),
    Rule("google_pubsub_subscription", "dead_letter_policy.*.dead_letter_topic",
         pattern(r"projects/[^/]+/topics/[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}", "is not projects/{project}/topics/{topic}"),
         f"{PROVIDER} google/services/pubsub/resource_pubsub_subscription.go dead_letter_topic: 'Format is projects/{{project}}/topics/{{topic}}'",
         ("projects/acme/topics/customerio-track-dead-letter",), ("customerio-track-dead-letter",)),
    Rule("google_pubsub_subscription", "expiration_policy.*.ttl", seconds(86400, 10**12, allow_empty=True),
         f"{PROVIDER} google/services/pubsub/resource_pubsub_subscription.go expiration_policy: "
         "'The minimum allowed value for expirationPolicy.ttl is 1 day'; \"\" never expires",
         ("", "86400s"), ("3600s", "never")),
    Rule("google_pubsub_subscription", "filter", length(0, 256, "bytes"),
         f"{PROVIDER} google/services/pubsub/resource_pubsub_subscription.go filter: 'The maximum length of a filter is 256 bytes'",
         ('attributes.metric = "bounced"',), ("x" * 257,)),
    Rule("google_pubsub_subscription", "push_config.*.push_endpoint", pattern(r"https://[^\s]+", "is not an https:// URL"),
         "https://cloud.google.com/pubsub/docs/push#properties_of_a_push_subscription (the endpoint must be HTTPS)",
         ("https://track-abc.a.run.app",), ("http://track", "track")),
    Rule("google_pubsub_subscription", "bigquery_config.*.table",
         pattern(r"[a-z][a-z0-9.:-]{4,61}[a-z0-9][:.][0-9A-Za-z_]{1,1024}\.[^\s.]{1,1024}", "is not {project}:{dataset}.{table} or {project}.{dataset}.{table}"),
         f"{PROVIDER} google/services/pubsub/resource_pubsub_subscription.go bigquery_config.table: "
         "'The name of the table ... of the form {{projectId}}:{{datasetId}}.{{tableId}}'",
         ("acme-dev:customerio.events", "acme-dev.customerio.events"), ("customerio.events", "acme-dev:customer-io.events")),
    # BigQuery
    Rule("google_bigquery_dataset", "dataset_id", every(pattern(r"[0-9A-Za-z_]+", "may hold only letters, digits and underscores"), length(1, 1024)),
         f"{PROVIDER} google/services/bigquery/resource_bigquery_dataset.go validateDatasetId (datasetIdRegexp ^[0-9A-Za-z_]+$, at most 1,024)",
         ("customerio", "customerio_events"), ("customerio-events", "customer io")),
    Rule("google_bigquery_table", "dataset_id", pattern(r"[0-9A-Za-z_]{1,1024}", "may hold only letters, digits and underscores"),
         f"{PROVIDER} google/services/bigquery/resource_bigquery_dataset.go validateDatasetId",
         ("customerio",), ("customerio-events",)),
    Rule("google_bigquery_table", "table_id", pattern(r"[\w\- ]{1,1024}", "is not a table name (letters, marks, numbers, connectors, dashes, spaces; at most 1,024)"),
         "https://cloud.google.com/bigquery/docs/tables#table_naming",
         ("events", "events_unique"), ("events.unique", "")),
    Rule("google_bigquery_table", "schema", bigquery_schema,
         "https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TableFieldSchema (type, mode, name)",
         ('[{"name": "event_id", "type": "STRING", "mode": "REQUIRED"}]',),
         ('[{"name": "event_id", "type": "TEXT"}]', '[{"name": "event id", "type": "STRING"}]', '[{"name": "a", "type": "STRING", "mode": "OPTIONAL"}]')),
    Rule("google_bigquery_table", "time_partitioning.*.type", enum("DAY", "HOUR", "MONTH", "YEAR"),
         f"{PROVIDER} google/services/bigquery/resource_bigquery_table.go time_partitioning.type: "
         "validation.StringInSlice([]string{{\"DAY\", \"HOUR\", \"MONTH\", \"YEAR\"}}, false)",
         ("DAY",), ("DAILY", "day")),
    Rule("google_bigquery_table", "clustering", list_of(pattern(r"[A-Za-z_][A-Za-z0-9_]{0,299}", "is not a column name"), most=4),
         "https://cloud.google.com/bigquery/docs/clustered-tables#limitations (up to four clustering columns)",
         (["object_type", "metric"],), (["a", "b", "c", "d", "e"],)),
    Rule("google_bigquery_table", "view.*.query", length(1, 1024 * 1024, "bytes"),
         "https://cloud.google.com/bigquery/quotas#view_limits (view SQL at most 256 K characters; never empty)",
         ("SELECT 1",), ("",)),
    # Secret Manager
    Rule("google_secret_manager_secret", "secret_id", pattern(r"[a-zA-Z0-9_-]{1,255}", "is not a secret id"),
         "https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create "
         "(secretId: at most 255 characters of [a-zA-Z_0-9-])",
         ("customerio-dev-track-api-key",), ("customerio.dev", "x" * 256)),
    # Cloud Functions (2nd gen) and the Cloud Run service behind each
    Rule("google_cloudfunctions2_function", "name", pattern(r"[a-z][a-z0-9-]{2,61}[a-z0-9]", "is not a function id (4-63 characters of a-z, 0-9 and -)"),
         "https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions/create "
         "(functionId: 4-63 characters, [a-z][0-9]-); a Cloud Run service name cannot end with '-'",
         ("customerio-staging-webhook-ingest",), ("Customerio-track", "customerio-track-", "cio", "customerio_track")),
    Rule("google_cloudfunctions2_function", "service_config.*.ingress_settings", enum("ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"),
         f"{MM} mmv1/products/cloudfunctions2/Function.yaml serviceConfig.ingressSettings (Enum)",
         ("ALLOW_INTERNAL_ONLY",), ("INTERNAL_ONLY", "allow_all")),
    Rule("google_cloudfunctions2_function", "build_config.*.runtime", enum("python310", "python311", "python312", "python313"),
         "https://cloud.google.com/functions/docs/runtime-support#python (supported Python runtimes)",
         ("python312",), ("python3.12", "python37")),
    Rule("google_cloudfunctions2_function", "build_config.*.service_account",
         pattern(r"projects/[^/]+/serviceAccounts/[^/@]+@[^/]+", "is not projects/{project}/serviceAccounts/{email}"),
         "https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions#BuildConfig (serviceAccount)",
         ("projects/acme/serviceAccounts/cio-dev-build@acme.iam.gserviceaccount.com",), ("cio-dev-build@acme.iam.gserviceaccount.com",)),
    Rule("google_cloudfunctions2_function", "build_config.*.docker_repository",
         pattern(r"projects/[^/]+/locations/[^/]+/repositories/[a-z]([a-z0-9-]{0,61}[a-z0-9])?", "is not projects/{project}/locations/{location}/repositories/{repository}"),
         "https://cloud.google.com/functions/docs/reference/rest/v2/projects.locations.functions#BuildConfig (dockerRepository)",
         ("projects/acme/locations/europe-west1/repositories/customerio-dev-functions",), ("customerio-dev-functions",)),
    Rule("google_cloudfunctions2_function", "service_config.*.available_memory", pattern(r"\d+(\.\d+)?(k|M|G|Mi|Gi)?", "is not a memory size (a number with k, M, G, Mi or Gi)"),
         f"{MM} mmv1/products/cloudfunctions2/Function.yaml serviceConfig.availableMemory: 'Supported units are k, M, G, Mi, Gi'",
         ("256Mi", "1Gi", "512M"), ("256MB", "256 Mi", "1GiB")),
    Rule("google_cloudfunctions2_function", "service_config.*.available_cpu", pattern(r"(\d+(\.\d+)?|\d+m)", "is not a CPU amount (e.g. \"1\", \"0.583\", \"1000m\")"),
         "https://cloud.google.com/run/docs/configuring/services/cpu (CPU as a decimal or millicpu)",
         ("1", "0.583", "2000m"), ("one", "1 cpu")),
    Rule("google_cloudfunctions2_function", "service_config.*.timeout_seconds", int_range(1, 3600),
         "https://cloud.google.com/functions/docs/configuring/timeout (HTTP functions up to 60 minutes)",
         (55, 3600), (0, 3601)),
    Rule("google_cloudfunctions2_function", "service_config.*.max_instance_request_concurrency", int_range(1, 1000),
         "https://cloud.google.com/functions/docs/configuring/concurrency (at most 1000 concurrent requests per instance)",
         (1, 80), (0, 1001)),
    Rule("google_cloudfunctions2_function", "service_config.*.max_instance_count", int_range(1, 1000),
         "https://cloud.google.com/functions/docs/configuring/max-instances (at least 1; 1000 is the default quota ceiling)",
         (1, 20), (0,)),
    Rule("google_cloudfunctions2_function", "service_config.*.min_instance_count", int_range(0, 1000),
         "https://cloud.google.com/functions/docs/configuring/min-instances",
         (0,), (-1,)),
    Rule("google_cloudfunctions2_function", "service_config.*.environment_variables", environment_variables,
         "https://cloud.google.com/run/docs/configuring/services/environment-variables#reserved (PORT, K_SERVICE, K_REVISION, K_CONFIGURATION)",
         ({"LOG_LEVEL": "INFO"},), ({"PORT": "8080"}, {"K_SERVICE": "x"})),
    Rule("google_cloudfunctions2_function", "location", pattern(r"[a-z]+-[a-z]+\d+", "is not a region"),
         "https://cloud.google.com/functions/docs/locations", ("europe-west1",), ("EU", "europe-west")),
    Rule("google_cloud_run_service_iam_member", "service", pattern(r"(projects/[^/]+/locations/[^/]+/services/)?[a-z]([-a-z0-9]{0,47}[a-z0-9])?", "is not a Cloud Run service name"),
         "https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/create (serviceId: lower-case letters, digits, '-', at most 49)",
         ("customerio-dev-track", "projects/acme/locations/europe-west1/services/customerio-dev-track"), ("Customerio", "customerio-dev-track-")),
    # Artifact Registry
    Rule("google_artifact_registry_repository", "repository_id", pattern(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", "is not a repository id"),
         f"{MM} mmv1/products/artifactregistry/Repository.yaml repositoryId; "
         "https://cloud.google.com/artifact-registry/docs/repositories/create-repos (lower-case letters, digits, hyphens; at most 63)",
         ("customerio-dev-functions",), ("Customerio", "customerio_dev", "customerio-")),
    Rule("google_artifact_registry_repository", "format", enum("DOCKER", "MAVEN", "NPM", "PYTHON", "APT", "YUM", "GO", "KFP", "GENERIC"),
         f"{MM} mmv1/products/artifactregistry/Repository.yaml format", ("DOCKER",), ("docker-registry",)),
    # IAM members and roles on every kind of resource
    *(Rule(kind, "member", MEMBER, IAM_DOC, GOOD_MEMBER, BAD_MEMBER) for kind in IAM_RESOURCES),
    *(Rule(kind, "role", ROLE, IAM_DOC, ("roles/pubsub.publisher",), ("pubsub.publisher", "roles/")) for kind in IAM_RESOURCES),
    Rule("google_project_service", "service", pattern(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.googleapis\.com", "is not an API service name"),
         "https://cloud.google.com/service-usage/docs/reference/rest/v1/services/enable",
         ("cloudresourcemanager.googleapis.com",), ("pubsub", "Pubsub.googleapis.com")),
    # Firestore
    Rule("google_firestore_database", "type", enum("FIRESTORE_NATIVE", "DATASTORE_MODE"),
         f"{MM} mmv1/products/firestore/Database.yaml type", ("FIRESTORE_NATIVE",), ("NATIVE",)),
    Rule("google_firestore_database", "deletion_policy", enum("ABANDON", "DELETE"),
         f"{PROVIDER} google/services/firestore/resource_firestore_database.go deletion_policy", ("ABANDON",), ("KEEP",)),
    Rule("google_firestore_database", "delete_protection_state", enum("DELETE_PROTECTION_STATE_UNSPECIFIED", "DELETE_PROTECTION_ENABLED", "DELETE_PROTECTION_DISABLED"),
         f"{MM} mmv1/products/firestore/Database.yaml deleteProtectionState", ("DELETE_PROTECTION_ENABLED",), ("ENABLED",)),
    # Cloud Logging and Cloud Monitoring
    Rule("google_logging_metric", "name", every(
        pattern(r"[A-Za-z0-9_\-.,+!*'()%][A-Za-z0-9_\-.,+!*'()%/]{0,99}", "is not a metric name"),
    ), "https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.metrics#LogMetric "
       "(at most 100 characters of A-Za-z0-9_-.,+!*',()%/; '/' only as a separator, not first)",
         ("customerio/dead_letters",), ("/customerio", "customerio dead letters", "x" * 101)),
    Rule("google_logging_project_exclusion", "name", pattern(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}", "is not an exclusion name"),
         "https://cloud.google.com/logging/docs/reference/v2/rest/v2/projects.exclusions#LogExclusion (at most 100 "
         "characters of letters, digits, underscores, hyphens and periods; the first alphanumeric)",
         ("customerio-prod-success-lines",), ("-success-lines", "success lines", "x" * 101)),
    Rule("google_logging_project_exclusion", "filter", length(1, 20_000),
         "https://cloud.google.com/logging/quotas (length of a sink exclusion filter: 20,000 characters); "
         "LogExclusion.filter is required", ('severity=INFO AND sample(insertId, 0.9)',), ("", "x" * 20_001)),
    Rule("google_logging_metric", "metric_descriptor.*.metric_kind", enum("DELTA", "GAUGE", "CUMULATIVE"),
         f"{MM} mmv1/products/logging/Metric.yaml metricDescriptor.metricKind", ("DELTA",), ("COUNTER",)),
    Rule("google_logging_metric", "metric_descriptor.*.value_type", enum("BOOL", "INT64", "DOUBLE", "STRING", "DISTRIBUTION", "MONEY"),
         f"{MM} mmv1/products/logging/Metric.yaml metricDescriptor.valueType", ("INT64",), ("INTEGER",)),
    Rule("google_monitoring_alert_policy", "combiner", enum("AND", "OR", "AND_WITH_MATCHING_RESOURCE"), ALERT_MM, ("OR",), ("ANY",)),
    Rule("google_monitoring_alert_policy", "conditions.*.condition_threshold.*.comparison",
         enum("COMPARISON_GT", "COMPARISON_GE", "COMPARISON_LT", "COMPARISON_LE", "COMPARISON_EQ", "COMPARISON_NE"),
         ALERT_MM, ("COMPARISON_GT",), ("GT", ">")),
    Rule("google_monitoring_alert_policy", "conditions.*.condition_threshold.*.duration", seconds(0, 86400),
         f"{ALERT_MM}; durations are whole seconds with an 's'", ("60s", "0s"), ("1m", "60")),
    Rule("google_monitoring_alert_policy", "conditions.*.condition_threshold.*.aggregations.*.alignment_period", seconds(60, 104 * 86400),
         "https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies#Aggregation (alignmentPeriod at least 60 seconds)",
         ("60s", "300s"), ("30s", "5m")),
    Rule("google_monitoring_alert_policy", "conditions.*.condition_threshold.*.aggregations.*.per_series_aligner", enum(*ALIGNERS),
         ALERT_MM, ("ALIGN_RATE",), ("RATE",)),
    Rule("google_monitoring_alert_policy", "conditions.*.condition_threshold.*.aggregations.*.cross_series_reducer", enum(*REDUCERS),
         ALERT_MM, ("REDUCE_SUM",), ("SUM",)),
    Rule("google_monitoring_alert_policy", "documentation.*.mime_type", enum("text/markdown"), ALERT_MM, ("text/markdown",), ("text/plain",)),
    Rule("google_monitoring_dashboard", "dashboard_json", json_document,
         "https://cloud.google.com/monitoring/api/ref_v3/rest/v1/projects.dashboards (a Dashboard as JSON)",
         ('{"displayName": "x"}',), ("{displayName: x}",)),
    # Labels, wherever a resource takes them
    Rule("*", "labels", labels,
         "https://cloud.google.com/resource-manager/docs/labels-overview#requirements "
         "(keys [a-z][a-z0-9_-]{0,62}, values [a-z0-9_-]{0,63}, at most 64)",
         ({"app": "customerio-gcp", "environment": "dev"},), ({"App": "x"}, {"team": "Platform Team"})),
    # hashicorp/time (the wait for new log-based metrics)
    Rule("time_sleep", "create_duration", go_duration,
         "hashicorp/terraform-provider-time internal/provider/resource_time_sleep.go (a Go time.ParseDuration string)",
         ("600s", "10m"), ("ten minutes", "600")),
)
# fmt: on


# --- applying the rules -----------------------------------------------------------------------

Step = str | int


def values_at(value: Any, steps: list[str], where: tuple[Step, ...] = ()) -> Iterator[tuple[tuple[Step, ...], Any]]:
    """Every known value at a dotted path; '*' steps into each element of a list."""
    if isinstance(value, Unknown) or value is None:
        return
    if not steps:
        yield where, value
        return
    head, rest = steps[0], steps[1:]
    if head == "*":
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from values_at(item, rest, (*where, index))
        return
    if isinstance(value, dict) and head in value:
        yield from values_at(value[head], rest, (*where, head))


def contains_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


@dataclass
class Problem:
    rule: Rule
    path: tuple[Step, ...]
    detail: str

    def __str__(self) -> str:
        return f"{self.rule.resource}.{'.'.join(map(str, self.path))}: {self.detail} [source: {self.rule.source}]"


def cross_field(resource: str, config: dict[str, Any]) -> Iterator[Problem]:
    """Rules across attributes of one resource."""
    if resource == "google_cloudfunctions2_function":
        for index, service in enumerate(config.get("service_config") or []):
            if not isinstance(service, dict):
                continue
            concurrency, cpu = service.get("max_instance_request_concurrency"), service.get("available_cpu")
            if (
                isinstance(concurrency, int)
                and concurrency > 1
                and isinstance(cpu, str)
                and re.fullmatch(r"\d+(\.\d+)?", cpu)
                and float(cpu) < 1
            ):
                yield Problem(
                    CONCURRENCY_NEEDS_CPU,
                    ("service_config", index, "available_cpu"),
                    f"max_instance_request_concurrency {concurrency} needs at least 1 CPU, not {cpu}",
                )
    if resource == "google_pubsub_subscription":
        for index, retry in enumerate(config.get("retry_policy") or []):
            low, high = (DURATION.fullmatch(str(retry.get(k) or "")) for k in ("minimum_backoff", "maximum_backoff"))
            if low and high and float(low.group(1)) > float(high.group(1)):
                yield Problem(
                    BACKOFF_ORDER, ("retry_policy", index, "minimum_backoff"), "minimum_backoff exceeds maximum_backoff"
                )
        if config.get("push_config") and config.get("bigquery_config"):
            yield Problem(
                ONE_DELIVERY, ("bigquery_config",), "a subscription takes push_config or bigquery_config, not both"
            )


CONCURRENCY_NEEDS_CPU = Rule(
    "google_cloudfunctions2_function",
    "service_config.*.available_cpu",
    lambda v: None,
    "https://cloud.google.com/functions/docs/configuring/concurrency (concurrency above 1 needs at least 1 vCPU)",
    (),
    (),
)
BACKOFF_ORDER = Rule(
    "google_pubsub_subscription",
    "retry_policy.*.minimum_backoff",
    lambda v: None,
    "https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.subscriptions#RetryPolicy",
    (),
    (),
)
ONE_DELIVERY = Rule(
    "google_pubsub_subscription",
    "bigquery_config",
    lambda v: None,
    f"{PROVIDER} google/services/pubsub/resource_pubsub_subscription.go bigquery_config: ConflictsWith push_config",
    (),
    (),
)


def validate(resource: str, config: Any) -> list[Problem]:
    if not isinstance(config, dict):
        return []
    problems = []
    for rule in RULES:
        if rule.resource not in (resource, "*"):
            continue
        for where, value in values_at(config, rule.path.split(".")):
            if contains_unknown(value):
                continue
            detail = rule.check(value)
            if detail:
                problems.append(Problem(rule, where, detail))
    problems.extend(cross_field(resource, config))
    return problems
