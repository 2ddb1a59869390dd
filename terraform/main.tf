# customerio-gcp, one environment. After terraform/bootstrap (APIs Terraform needs, the
# environment's own state bucket, deployer and plan-only accounts), `terraform apply` stands up
# everything in one pass; by hand you only create the project and add the secret values
# (docs/deploy.md).

locals {
  # The single source of topic names and delivery settings, shared with the code and `make run`.
  pipeline   = jsondecode(file("${path.module}/../shared/src/customerio_gcp/pipeline.json"))
  schema_dir = "${path.module}/../shared/src/customerio_gcp/webhooks/bigquery"
  prefix     = "customerio-${var.environment}"
  labels     = merge(var.labels, { app = "customerio-gcp", environment = var.environment })

  # Names and ids, derived so that every environment's are valid by construction (the longest
  # environment, "staging", is checked by tests/terraform/test_names.py for dev, staging and prod):
  #   service-account ids: "cio-<env>-<role>", 6-30 characters, RFC 1035 (at most 25 here);
  #   functions and Cloud Run services: "customerio-<env>-<role>", at most 49 characters;
  #   the source bucket: "<project>-<env>-fn-src", at most 30 + 18 = 48 of the 63 allowed.
  account_prefix = "cio-${var.environment}"
  account_ids = merge(
    { for k in local.delivery_kinds : k => "${local.account_prefix}-${k}" },
    { webhook = "${local.account_prefix}-webhook", push = "${local.account_prefix}-push", build = "${local.account_prefix}-build" },
  )
  function_names = merge(
    { for k in local.delivery_kinds : k => "${local.prefix}-${k}" },
    { webhook = "${local.prefix}-webhook-ingest" },
  )
  source_bucket = "${var.project_id}-${var.environment}-fn-src"
  repository_id = "${local.prefix}-functions"

  delivery_kinds = toset(["identify", "track", "transactional"])

  # Scaling from Customer.io's rate budgets (docs/deploy.md, "Scaling from the rate budget").
  # identify and track coalesce (TRACK_COALESCE, set below): each instance takes up to `track_concurrency` (80) pushes at once
  # and sends them to the Track API in as few requests as it can, paced to its share of the Track
  # budget (CIO_TRACK_RPS_PER_INSTANCE). transactional sends one request per message, at most
  # `concurrency` (8) at once.
  #
  #   max_instances = max(1, floor(budget_rps * latency_s / concurrency))
  #
  # An instance with `concurrency` requests in flight, each about `latency_s` long, sends at most
  # concurrency / latency_s requests per second, so that many instances cannot exceed the budget
  # even uncoalesced; the per-instance pace = budget_rps / max_instances keeps the floor of one
  # instance inside it too. Defaults: Track 100 req/s split 50/50, 200 ms, concurrency 80 ->
  # floor(50 * 0.2 / 80) = 0 -> 1 instance each, paced at 50 req/s; transactional 100 req/s,
  # concurrency 8 -> floor(100 * 0.2 / 8) = 2 instances (no pacing: 2 * 8 / 0.2 s = 80 req/s).
  # Pub/Sub push slows down by itself when the instances are busy.
  latency_s = var.customerio.expected_latency_ms / 1000
  budget_rps = {
    identify      = var.customerio.track_rps * var.customerio.track_share.identify
    track         = var.customerio.track_rps * var.customerio.track_share.track
    transactional = var.customerio.transactional_rps
  }
  concurrency = {
    identify      = var.functions.track_concurrency
    track         = var.functions.track_concurrency
    transactional = var.functions.concurrency
  }
  max_instances = {
    for kind, rps in local.budget_rps : kind => max(1, floor(rps * local.latency_s / local.concurrency[kind]))
  }
  track_rps_per_instance = {
    for kind in ["identify", "track"] : kind => local.budget_rps[kind] / local.max_instances[kind]
  }

  # Deterministic names (no resource references), so functions and subscriptions do not depend
  # on each other in a cycle.
  dead_letter_topic = { for k in local.delivery_kinds : k => "projects/${var.project_id}/topics/${local.pipeline.topics[k].topic}${local.pipeline.dead_letter_suffix}" }
  push_subscription = { for k in local.delivery_kinds : k => "projects/${var.project_id}/subscriptions/${local.pipeline.topics[k].topic}${local.pipeline.push_subscription_suffix}" }

  idempotency_collection   = "customerio_idempotency"
  identify_hash_collection = "customerio_identify_hashes"
  tombstone_collection     = "customerio_tombstones"
  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    CIO_REGION           = var.customerio.region
    LOG_LEVEL            = "INFO"
  }
  track_secrets = {
    CIO_SITE_ID_SECRET       = module.secrets.ids["site_id"]
    CIO_TRACK_API_KEY_SECRET = module.secrets.ids["track_api_key"]
  }
  function_env = {
    identify = merge(local.track_secrets, {
      IDENTIFY_SKIP_UNCHANGED    = tostring(var.skip_unchanged_identifies)
      IDENTIFY_HASH_COLLECTION   = local.identify_hash_collection
      TRACK_COALESCE             = "true"
      CIO_TRACK_RPS_PER_INSTANCE = tostring(local.track_rps_per_instance.identify)
    })
    track = merge(local.track_secrets, {
      TRACK_COALESCE             = "true"
      CIO_TRACK_RPS_PER_INSTANCE = tostring(local.track_rps_per_instance.track)
    })
    transactional = {
      CIO_APP_API_KEY_SECRET = module.secrets.ids["app_api_key"]
      IDEMPOTENCY_COLLECTION = local.idempotency_collection
      IDEMPOTENCY_TTL_S      = tostring(var.idempotency_ttl_days * 86400)
    }
  }
  secret_readers = {
    identify      = ["site_id", "track_api_key"]
    track         = ["site_id", "track_api_key"]
    transactional = ["app_api_key"]
    webhook       = ["webhook_signing_key", "webhook_signing_key_next"]
  }
}

data "google_project" "this" {
  project_id = var.project_id
}

# cloudresourcemanager and serviceusage are enabled by terraform/bootstrap (this configuration
# reads the project and enables APIs through them); listing them here keeps them enabled.
resource "google_project_service" "apis" {
  for_each = toset([
    "artifactregistry.googleapis.com", "bigquery.googleapis.com", "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com", "cloudresourcemanager.googleapis.com", "firestore.googleapis.com",
    "iam.googleapis.com", "logging.googleapis.com", "monitoring.googleapis.com", "pubsub.googleapis.com",
    "run.googleapis.com", "secretmanager.googleapis.com", "serviceusage.googleapis.com", "storage.googleapis.com",
  ])
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_storage_bucket" "sources" {
  #checkov:skip=CKV_GCP_62:Holds only function zips built from this repository; Cloud Audit Logs record access.
  project                     = var.project_id
  name                        = local.source_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = local.labels
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.apis]
}

# Service agents (Pub/Sub's among them) appear some time after their API is enabled; granting
# them roles before that fails. bootstrap creates the Pub/Sub agent explicitly
# (`gcloud beta services identity create`); this wait covers a project bootstrapped without it.
resource "time_sleep" "service_agents" {
  create_duration = var.propagation_waits.service_agents
  triggers        = { apis = join(",", sort(keys(google_project_service.apis))) }
}

resource "google_service_account" "push_invoker" {
  project      = var.project_id
  account_id   = local.account_ids.push
  display_name = "Pub/Sub push subscriptions invoking the delivery functions"
  depends_on   = [google_project_service.apis]
}

# Function builds run as this account, never as the default Cloud Build or Compute account (which
# get no roles where the organisation policy iam.automaticIamGrantsForDefaultServiceAccounts is
# enforced, the default for organisations created since May 2024).
resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = local.account_ids.build
  display_name = "Cloud Build: builds of the customerio-gcp functions"
  depends_on   = [google_project_service.apis]
}

resource "google_project_iam_member" "build_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.build.member
}

resource "google_artifact_registry_repository" "functions" {
  #checkov:skip=CKV_GCP_84:Holds only function images built from this repository; Google-managed encryption suffices (add a KMS key if your policy demands it).
  project       = var.project_id
  location      = var.region
  repository_id = local.repository_id
  format        = "DOCKER"
  description   = "Images of the customerio-gcp functions (${var.environment})."
  labels        = local.labels
  depends_on    = [google_project_service.apis]
}

resource "google_artifact_registry_repository_iam_member" "build_writes_images" {
  project    = var.project_id
  location   = var.region
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.build.member
}

resource "google_storage_bucket_iam_member" "build_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

module "secrets" {
  source     = "./modules/secrets"
  project_id = var.project_id
  prefix     = local.prefix
  labels     = local.labels
  accessors = {
    for secret in distinct(flatten(values(local.secret_readers))) : secret => {
      for fn, secrets in local.secret_readers :
      fn => fn == "webhook" ? module.webhook_ingest.service_account_member : module.delivery[fn].service_account_member
      if contains(secrets, secret)
    }
  }
  depends_on = [google_project_service.apis]
}

module "delivery" {
  source         = "./modules/function"
  for_each       = local.delivery_kinds
  project_id     = var.project_id
  region         = var.region
  name           = local.function_names[each.key]
  entry_point    = local.pipeline.topics[each.key].function
  runtime        = var.functions.runtime
  source_archive = "${path.module}/${var.package_dir}/${each.key}.zip"
  source_bucket  = google_storage_bucket.sources.name
  public         = false

  service_account_id          = local.account_ids[each.key]
  build_service_account_email = google_service_account.build.email
  docker_repository           = "projects/${var.project_id}/locations/${var.region}/repositories/${google_artifact_registry_repository.functions.repository_id}"

  invokers = { push = "serviceAccount:${google_service_account.push_invoker.email}" }
  labels   = local.labels
  scaling = {
    max_instances = local.max_instances[each.key]
    min_instances = lookup(var.functions.min_instances, each.key, 0)
    concurrency   = local.concurrency[each.key]
    memory        = var.functions.memory
    timeout_s     = local.pipeline.delivery.ack_deadline_s - 5
  }
  env_vars = merge(local.common_env, local.function_env[each.key], {
    DEAD_LETTER_TOPIC   = local.dead_letter_topic[each.key]
    SOURCE_SUBSCRIPTION = local.push_subscription[each.key]
    # every delivery function looks up the person's deletion tombstone before it sends
    TOMBSTONE_COLLECTION = local.tombstone_collection
  })
  depends_on = [
    google_project_service.apis, google_project_iam_member.build_logs,
    google_artifact_registry_repository_iam_member.build_writes_images, google_storage_bucket_iam_member.build_reads_sources,
  ]
}

module "webhook_ingest" {
  source         = "./modules/function"
  project_id     = var.project_id
  region         = var.region
  name           = local.function_names.webhook
  entry_point    = "webhook_ingest"
  runtime        = var.functions.runtime
  source_archive = "${path.module}/${var.package_dir}/webhook_ingest.zip"
  source_bucket  = google_storage_bucket.sources.name
  public         = true

  service_account_id          = local.account_ids.webhook
  build_service_account_email = google_service_account.build.email
  docker_repository           = "projects/${var.project_id}/locations/${var.region}/repositories/${google_artifact_registry_repository.functions.repository_id}"
  # Customer.io calls it from the internet; every request is HMAC-verified.
  labels = local.labels
  scaling = {
    max_instances = var.functions.webhook_max_instances
    min_instances = lookup(var.functions.min_instances, "webhook_ingest", 0)
    concurrency   = var.functions.webhook_concurrency
    memory        = var.functions.memory
    timeout_s     = 10 # Customer.io gives up after 4 s anyway.
  }
  env_vars = merge(local.common_env, {
    CIO_WEBHOOK_SIGNING_KEY_SECRET      = module.secrets.ids["webhook_signing_key"]
    CIO_WEBHOOK_SIGNING_KEY_NEXT_SECRET = module.secrets.ids["webhook_signing_key_next"]
    WEBHOOK_PERSONAL_DATA               = var.webhook.personal_data
    # Durable first: one message per event here (the BigQuery subscription writes the table, the
    # routing subscription feeds the application); unparseable signed bodies to quarantine.
    WEBHOOK_EVENTS_TOPIC     = "projects/${var.project_id}/topics/${local.pipeline.webhook.events_topic}"
    WEBHOOK_QUARANTINE_TOPIC = "projects/${var.project_id}/topics/${local.pipeline.webhook.quarantine_topic}"
  })
  depends_on = [
    google_project_service.apis, google_project_iam_member.build_logs,
    google_artifact_registry_repository_iam_member.build_writes_images, google_storage_bucket_iam_member.build_reads_sources,
  ]
}

module "pubsub" {
  source                 = "./modules/pubsub_pipeline"
  project_id             = var.project_id
  project_number         = data.google_project.this.number
  pipeline               = local.pipeline
  invoker_email          = google_service_account.push_invoker.email
  endpoints              = { for k, fn in module.delivery : k => fn.url }
  dead_letter_publishers = { for k, fn in module.delivery : k => fn.service_account_member }
  webhook_publishers     = { webhook_ingest = module.webhook_ingest.service_account_member }
  webhook_app_endpoint   = var.webhook.app_endpoint
  webhook_bigquery_table = {
    project    = var.project_id
    dataset_id = module.bigquery.dataset_id
    table_id   = module.bigquery.table_id
  }
  labels     = local.labels
  depends_on = [google_project_service.apis, time_sleep.service_agents]
}

module "bigquery" {
  source                    = "./modules/bigquery_events"
  project_id                = var.project_id
  dataset_id                = var.bigquery.dataset_id
  location                  = var.bigquery.location
  schema_dir                = local.schema_dir
  partition_expiration_days = var.bigquery.partition_expiration_days
  deletion_protection       = var.bigquery.deletion_protection
  labels                    = local.labels
  depends_on                = [google_project_service.apis]
}

# Idempotency records for transactional sends and broadcast triggers.
resource "google_firestore_database" "default" {
  project                 = var.project_id
  name                    = "(default)"
  location_id             = var.region
  type                    = "FIRESTORE_NATIVE"
  deletion_policy         = "ABANDON"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  depends_on              = [google_project_service.apis]
}

# Firestore deletes records whose `expires_at` has passed (within about a day): send-once records,
# the last-synced attribute hashes that let identify skip unchanged people, and deletion
# tombstones (kept as long as a message about the person may still arrive).
resource "google_firestore_field" "expiry" {
  for_each   = toset([local.idempotency_collection, local.identify_hash_collection, local.tombstone_collection])
  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = each.value
  field      = "expires_at"
  ttl_config {}
}

# Firestore has no per-collection IAM: the delivery functions get datastore.user on the project,
# and only they do. All three read and write deletion tombstones (people.tombstones: track reads
# them before every event); identify also keeps attribute hashes, transactional send-once records.
# tests/terraform checks this list against the functions whose zips carry the Firestore client.
resource "google_project_iam_member" "firestore_users" {
  for_each = toset(["identify", "track", "transactional"])
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = module.delivery[each.value].service_account_member
}

module "monitoring" {
  source                    = "./modules/monitoring"
  project_id                = var.project_id
  environment               = var.environment
  functions                 = merge({ for k, fn in module.delivery : k => fn.service_name }, { webhook = module.webhook_ingest.service_name })
  dead_letter_subscriptions = module.pubsub.dead_letter_subscriptions
  webhook = {
    service_name              = module.webhook_ingest.service_name
    quarantine_subscription   = module.pubsub.webhook_subscriptions.quarantine
    dead_letter_subscriptions = module.pubsub.webhook_dead_letter_subscriptions
  }
  notification_channels = var.notification_channels
  thresholds            = var.alert_thresholds
  metrics_wait          = var.propagation_waits.log_metrics
  success_lines         = local.pipeline.logging.success_lines
  success_log_sampling  = var.success_log_sampling
  # transactional keeps every line: each send's line carries Customer.io's delivery_id
  success_log_functions = ["identify", "track", "webhook"]
  depends_on            = [google_project_service.apis]
}
