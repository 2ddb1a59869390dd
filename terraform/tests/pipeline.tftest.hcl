# Offline plans against a mocked google provider: the delivery guarantees, the grants Pub/Sub
# needs, least privilege, the derived scaling and the variable validations. `make test` runs
# this through tests/terraform/ with the stand-in provider (terraform/checks/).

# Mocks shaped like the real provider's values: a function's service_config[0].service is the
# full resource name of its Cloud Run service, and every service account has its own email, so a
# wire crossed between two accounts, or a full path where a short name belongs, shows.
mock_provider "google" {
  mock_resource "google_cloudfunctions2_function" {
    defaults = { service_config = { uri = "https://fn-abc.a.run.app", service = "projects/acme-customerio-dev/locations/europe-west1/services/fn-service" } }
  }
  mock_resource "google_service_account" {
    defaults = { email = "unmocked@acme-customerio-dev.iam.gserviceaccount.com", member = "serviceAccount:unmocked@acme-customerio-dev.iam.gserviceaccount.com" }
  }
  mock_data "google_project" {
    defaults = { number = "123456789012" }
  }
}

mock_provider "time" {}

override_resource {
  target = module.delivery["identify"].google_service_account.this
  values = { email = "cio-dev-identify@acme-customerio-dev.iam.gserviceaccount.com", member = "serviceAccount:cio-dev-identify@acme-customerio-dev.iam.gserviceaccount.com" }
}
override_resource {
  target = module.delivery["track"].google_service_account.this
  values = { email = "cio-dev-track@acme-customerio-dev.iam.gserviceaccount.com", member = "serviceAccount:cio-dev-track@acme-customerio-dev.iam.gserviceaccount.com" }
}
override_resource {
  target = module.delivery["transactional"].google_service_account.this
  values = { email = "cio-dev-transactional@acme-customerio-dev.iam.gserviceaccount.com", member = "serviceAccount:cio-dev-transactional@acme-customerio-dev.iam.gserviceaccount.com" }
}
override_resource {
  target = module.webhook_ingest.google_service_account.this
  values = { email = "cio-dev-webhook@acme-customerio-dev.iam.gserviceaccount.com", member = "serviceAccount:cio-dev-webhook@acme-customerio-dev.iam.gserviceaccount.com" }
}
override_resource {
  target = google_service_account.push_invoker
  values = { email = "cio-dev-push@acme-customerio-dev.iam.gserviceaccount.com", member = "serviceAccount:cio-dev-push@acme-customerio-dev.iam.gserviceaccount.com" }
}
override_resource {
  target = google_service_account.build
  values = { email = "cio-dev-build@acme-customerio-dev.iam.gserviceaccount.com", member = "serviceAccount:cio-dev-build@acme-customerio-dev.iam.gserviceaccount.com" }
}

variables {
  project_id  = "acme-customerio-dev"
  environment = "dev"
}

run "whole_environment_plans" {
  command = apply

  assert {
    condition     = keys(output.topics) == ["identify", "track", "transactional"]
    error_message = "the three delivery topics exist"
  }
  assert {
    condition     = output.topics["track"] == "customerio-track"
    error_message = "topic names come from pipeline.json"
  }
  assert {
    condition     = output.dead_letter_subscriptions["identify"] == "customerio-identify-dead-letter-inspect"
    error_message = "each topic has a dead-letter inspection subscription"
  }
  assert {
    # 100 req/s Track budget split 50/50, 200 ms per call; identify/track 80 concurrent per
    # instance (coalesced), transactional 8.
    condition     = output.max_instances == { identify = 1, track = 1, transactional = 2 }
    error_message = "max instances are derived from the rate budgets: ${jsonencode(output.max_instances)}"
  }
  assert {
    condition     = jsonencode(output.delivery_scaling) == jsonencode({ identify = { concurrency = 80, max_instances = 1, track_rps_per_instance = 50 }, track = { concurrency = 80, max_instances = 1, track_rps_per_instance = 50 }, transactional = { concurrency = 8, max_instances = 2, track_rps_per_instance = null } })
    error_message = "identify and track coalesce at 80 per instance, paced to their Track budget share: ${jsonencode(output.delivery_scaling)}"
  }
  assert {
    condition     = jsonencode([for k in ["identify", "track", "transactional"] : lookup(module.delivery[k].env_vars, "TRACK_COALESCE", null)]) == jsonencode(["true", "true", null])
    error_message = "identify and track run with coalescing on, explicitly (TRACK_COALESCE=true); transactional has no batch"
  }
  assert {
    condition     = output.webhook_url == "https://fn-abc.a.run.app"
    error_message = "the webhook URL is an output"
  }
  assert {
    condition     = [for g in google_project_iam_member.firestore_users : g.member] == ["serviceAccount:cio-dev-identify@acme-customerio-dev.iam.gserviceaccount.com", "serviceAccount:cio-dev-track@acme-customerio-dev.iam.gserviceaccount.com", "serviceAccount:cio-dev-transactional@acme-customerio-dev.iam.gserviceaccount.com"]
    error_message = "the delivery functions (tombstones in all three) may use Firestore, each as its own account, and nothing else"
  }
  assert {
    condition     = module.pubsub.push_subscriptions["track"] == "projects/acme-customerio-dev/subscriptions/customerio-track-push"
    error_message = "push subscription ids are full resource names"
  }
  assert {
    condition     = output.webhook_subscriptions == { bigquery = "customerio-webhook-events-bigquery", routing = "customerio-webhook-events-app", quarantine = "customerio-webhook-quarantine-inspect" }
    error_message = "the webhook subscriptions are outputs"
  }
  assert {
    condition     = google_project_iam_member.build_logs.member == "serviceAccount:cio-dev-build@acme-customerio-dev.iam.gserviceaccount.com" && google_artifact_registry_repository_iam_member.build_writes_images.member == google_project_iam_member.build_logs.member && google_storage_bucket_iam_member.build_reads_sources.member == google_project_iam_member.build_logs.member
    error_message = "the build account writes logs and images and reads the sources"
  }
  assert {
    condition     = contains(keys(google_project_service.apis), "cloudresourcemanager.googleapis.com")
    error_message = "the Resource Manager API is enabled (project IAM and the project data source use it)"
  }
  assert {
    condition     = output.names.service_accounts == { build = "cio-dev-build", identify = "cio-dev-identify", push = "cio-dev-push", track = "cio-dev-track", transactional = "cio-dev-transactional", webhook = "cio-dev-webhook" }
    error_message = "service-account ids: ${jsonencode(output.names.service_accounts)}"
  }
  assert {
    condition     = alltrue([for f in google_firestore_field.expiry : f.field == "expires_at"]) && toset(keys(google_firestore_field.expiry)) == toset(["customerio_idempotency", "customerio_identify_hashes", "customerio_tombstones"])
    error_message = "send-once records, attribute hashes and deletion tombstones expire through a TTL policy"
  }
}

run "scaling_follows_the_budget_and_concurrency" {
  command = apply
  variables {
    customerio = { track_rps = 1000, track_share = { identify = 0.3, track = 0.7 }, expected_latency_ms = 100 }
    functions  = { concurrency = 2, track_concurrency = 2 }
  }
  assert {
    condition     = output.max_instances == { identify = 15, track = 35, transactional = 5 }
    error_message = "got ${jsonencode(output.max_instances)}"
  }
  assert {
    # 300 req/s over 15 instances, 700 over 35: each paced at 20 req/s.
    condition     = output.delivery_scaling.identify.track_rps_per_instance == 20 && output.delivery_scaling.track.track_rps_per_instance == 20
    error_message = "got ${jsonencode(output.delivery_scaling)}"
  }
}

run "coalescing_functions_stay_inside_the_track_budget" {
  command = apply
  variables {
    customerio = { track_rps = 1000, track_share = { identify = 0.3, track = 0.7 }, expected_latency_ms = 200 }
  }
  assert {
    # floor(300 * 0.2 / 80) = 0 -> 1; floor(700 * 0.2 / 80) = 1; transactional floor(100 * 0.2 / 8) = 2.
    condition     = output.max_instances == { identify = 1, track = 1, transactional = 2 }
    error_message = "got ${jsonencode(output.max_instances)}"
  }
  assert {
    condition     = alltrue([for k in ["identify", "track"] : output.delivery_scaling[k].max_instances * output.delivery_scaling[k].track_rps_per_instance <= (k == "identify" ? 300 : 700)])
    error_message = "instances times their pace never exceed the function's Track budget share"
  }
}

run "pubsub_pipeline_retry_dead_letter_and_agent_grants" {
  command = apply
  module {
    source = "./modules/pubsub_pipeline"
  }
  variables {
    project_id     = "acme-customerio-dev"
    project_number = "123456789012"
    pipeline       = jsondecode(file("../shared/src/customerio_gcp/pipeline.json"))
    invoker_email  = "push@acme-customerio-dev.iam.gserviceaccount.com"
    endpoints = {
      identify      = "https://identify.a.run.app"
      track         = "https://track.a.run.app"
      transactional = "https://transactional.a.run.app"
    }
    dead_letter_publishers = { identify = "serviceAccount:fn-identify@acme-customerio-dev.iam.gserviceaccount.com" }
    webhook_publishers     = { webhook_ingest = "serviceAccount:cio-dev-webhook@acme-customerio-dev.iam.gserviceaccount.com" }
    webhook_bigquery_table = { project = "acme-customerio-dev", dataset_id = "customerio", table_id = "events" }
  }

  assert {
    condition     = alltrue([for s in google_pubsub_subscription.push : s.dead_letter_policy[0].max_delivery_attempts == 100])
    error_message = "every push subscription dead-letters after the configured attempts"
  }
  assert {
    condition     = alltrue([for k, s in google_pubsub_subscription.push : s.dead_letter_policy[0].dead_letter_topic == "projects/acme-customerio-dev/topics/${google_pubsub_topic.dead_letter[k].name}"])
    error_message = "each subscription dead-letters to its own topic"
  }
  assert {
    condition     = alltrue([for s in google_pubsub_subscription.push : s.retry_policy[0].minimum_backoff == "10s" && s.retry_policy[0].maximum_backoff == "600s"])
    error_message = "retry policy comes from pipeline.json"
  }
  assert {
    condition     = alltrue([for k, s in google_pubsub_subscription.push : s.push_config[0].oidc_token[0].service_account_email == "push@acme-customerio-dev.iam.gserviceaccount.com" && s.push_config[0].push_endpoint == var.endpoints[k]])
    error_message = "push requests carry the invoker's OIDC token to the function URL"
  }
  assert {
    condition     = alltrue([for g in google_pubsub_topic_iam_member.agent_publishes_dead_letters : g.role == "roles/pubsub.publisher" && g.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"])
    error_message = "Pub/Sub's service agent may publish to every dead-letter topic"
  }
  assert {
    condition     = length(google_pubsub_subscription_iam_member.agent_subscribes_source) == 3 && alltrue([for g in google_pubsub_subscription_iam_member.agent_subscribes_source : g.role == "roles/pubsub.subscriber"])
    error_message = "Pub/Sub's service agent may subscribe to every source subscription"
  }
  assert {
    condition     = keys(google_pubsub_topic_iam_member.function_publishes_dead_letters) == ["identify"]
    error_message = "a function publishes only to its own dead-letter topic"
  }
}

run "webhook_events_durable_first" {
  command = apply
  module {
    source = "./modules/pubsub_pipeline"
  }
  variables {
    project_id             = "acme-customerio-dev"
    project_number         = "123456789012"
    pipeline               = jsondecode(file("../shared/src/customerio_gcp/pipeline.json"))
    invoker_email          = "cio-dev-push@acme-customerio-dev.iam.gserviceaccount.com"
    endpoints              = { track = "https://track.a.run.app" }
    webhook_publishers     = { webhook_ingest = "serviceAccount:cio-dev-webhook@acme-customerio-dev.iam.gserviceaccount.com" }
    webhook_bigquery_table = { project = "acme-customerio-dev", dataset_id = "customerio", table_id = "events" }
  }

  assert {
    condition     = google_pubsub_topic.webhook_events.name == "customerio-webhook-events"
    error_message = "webhook-ingest publishes to the events topic named in pipeline.json"
  }
  assert {
    condition = (
      google_pubsub_subscription.webhook_bigquery.topic == "projects/acme-customerio-dev/topics/customerio-webhook-events"
      && google_pubsub_subscription.webhook_bigquery.bigquery_config[0].table == "acme-customerio-dev.customerio.events"
      && google_pubsub_subscription.webhook_bigquery.bigquery_config[0].use_table_schema
      && !google_pubsub_subscription.webhook_bigquery.bigquery_config[0].drop_unknown_fields
      && !google_pubsub_subscription.webhook_bigquery.bigquery_config[0].write_metadata
    )
    error_message = "a BigQuery subscription writes each event into the events table by the table's schema"
  }
  assert {
    condition     = google_pubsub_subscription.webhook_bigquery.dead_letter_policy[0].dead_letter_topic == "projects/acme-customerio-dev/topics/customerio-webhook-events-bigquery-dead-letter" && google_pubsub_subscription.webhook_bigquery.dead_letter_policy[0].max_delivery_attempts == 100
    error_message = "rows BigQuery refuses are dead-lettered to their own topic"
  }
  assert {
    condition     = google_pubsub_subscription.webhook_dead_letter_inspect["bigquery"].name == "customerio-webhook-events-bigquery-dead-letter-inspect" && google_pubsub_subscription.webhook_dead_letter_inspect["bigquery"].message_retention_duration == "2678400s" && google_pubsub_topic.webhook_dead_letter["bigquery"].message_retention_duration == "2678400s"
    error_message = "BigQuery dead letters are kept 31 days in an inspection subscription"
  }
  assert {
    condition     = google_pubsub_topic.webhook_dead_letter["routing"].name == "customerio-webhook-events-app-dead-letter" && google_pubsub_subscription.webhook_dead_letter_inspect["routing"].name == "customerio-webhook-events-app-dead-letter-inspect"
    error_message = "the routing subscription's dead letters: topic and inspection subscription names (customerio-gcp dlq --kind webhook-routing reads them)"
  }
  assert {
    condition     = jsonencode(sort([for g in google_bigquery_dataset_iam_member.agent_writes_events : g.role])) == jsonencode(["roles/bigquery.dataEditor", "roles/bigquery.metadataViewer"]) && alltrue([for g in google_bigquery_dataset_iam_member.agent_writes_events : g.dataset_id == "customerio" && g.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"])
    error_message = "Pub/Sub's service agent may write to and read the schema of the events dataset"
  }
  assert {
    condition     = alltrue([for g in google_pubsub_topic_iam_member.agent_publishes_webhook_dead_letters : g.role == "roles/pubsub.publisher" && g.member == "serviceAccount:service-123456789012@gcp-sa-pubsub.iam.gserviceaccount.com"]) && keys(google_pubsub_subscription_iam_member.agent_subscribes_webhook) == ["bigquery", "routing"]
    error_message = "the service agent may dead-letter from both webhook subscriptions"
  }
  assert {
    condition     = google_pubsub_subscription.webhook_routing.filter == "attributes.metric = \"bounced\" OR attributes.metric = \"spammed\" OR attributes.metric = \"unsubscribed\" OR attributes.metric = \"dropped\" OR attributes.metric = \"failed\" OR attributes.metric = \"undeliverable\""
    error_message = "the routing subscription selects the routed metrics: ${google_pubsub_subscription.webhook_routing.filter}"
  }
  assert {
    condition     = length(google_pubsub_subscription.webhook_routing.push_config) == 0 && google_pubsub_subscription.webhook_routing.dead_letter_policy[0].dead_letter_topic == "projects/acme-customerio-dev/topics/customerio-webhook-events-app-dead-letter" && google_pubsub_subscription.webhook_routing.retry_policy[0].minimum_backoff == "10s"
    error_message = "without an application endpoint the routing subscription is pulled, with retry and dead letter"
  }
  assert {
    condition     = google_pubsub_subscription.webhook_quarantine.name == "customerio-webhook-quarantine-inspect" && google_pubsub_subscription.webhook_quarantine.topic == "projects/acme-customerio-dev/topics/customerio-webhook-quarantine" && google_pubsub_subscription.webhook_quarantine.message_retention_duration == "2678400s"
    error_message = "unparseable signed bodies are kept 31 days in the quarantine subscription"
  }
  assert {
    condition     = jsonencode(sort([for g in google_pubsub_topic_iam_member.webhook_publishes : "${g.topic} ${g.role} ${g.member}"])) == jsonencode(["customerio-webhook-events roles/pubsub.publisher serviceAccount:cio-dev-webhook@acme-customerio-dev.iam.gserviceaccount.com", "customerio-webhook-quarantine roles/pubsub.publisher serviceAccount:cio-dev-webhook@acme-customerio-dev.iam.gserviceaccount.com"])
    error_message = "webhook-ingest may only publish to the events and quarantine topics"
  }
}

run "webhook_routing_pushes_to_the_application" {
  command = apply
  module {
    source = "./modules/pubsub_pipeline"
  }
  variables {
    project_id             = "acme-customerio-dev"
    project_number         = "123456789012"
    pipeline               = jsondecode(file("../shared/src/customerio_gcp/pipeline.json"))
    invoker_email          = "cio-dev-push@acme-customerio-dev.iam.gserviceaccount.com"
    endpoints              = { track = "https://track.a.run.app" }
    webhook_bigquery_table = { project = "acme-customerio-dev", dataset_id = "customerio", table_id = "events" }
    webhook_app_endpoint   = "https://app.example.com/customerio/events"
  }
  assert {
    condition     = google_pubsub_subscription.webhook_routing.push_config[0].push_endpoint == "https://app.example.com/customerio/events" && google_pubsub_subscription.webhook_routing.push_config[0].oidc_token[0].service_account_email == "cio-dev-push@acme-customerio-dev.iam.gserviceaccount.com"
    error_message = "with an endpoint, routed events are pushed with an OIDC token"
  }
}

run "functions_ingress_and_invokers" {
  command = apply
  module {
    source = "./modules/function"
  }
  variables {
    project_id     = "acme-customerio-dev"
    region         = "europe-west1"
    name           = "customerio-dev-track"
    entry_point    = "track"
    source_archive = "../build/functions/track.zip"
    source_bucket  = "sources"
    invokers       = { push = "serviceAccount:push@acme-customerio-dev.iam.gserviceaccount.com" }
    scaling        = { max_instances = 3 }

    service_account_id          = "cio-dev-track"
    build_service_account_email = "cio-dev-build@acme-customerio-dev.iam.gserviceaccount.com"
    docker_repository           = "projects/acme-customerio-dev/locations/europe-west1/repositories/customerio-dev-functions"
  }
  assert {
    condition     = google_cloudfunctions2_function.this.service_config[0].ingress_settings == "ALLOW_INTERNAL_ONLY"
    error_message = "Pub/Sub-fed functions accept internal traffic only"
  }
  assert {
    condition     = [for g in google_cloud_run_service_iam_member.invoker : g.member] == ["serviceAccount:push@acme-customerio-dev.iam.gserviceaccount.com"]
    error_message = "only the invoker account may call a delivery function"
  }
  assert {
    condition     = google_cloudfunctions2_function.this.service_config[0].max_instance_request_concurrency == 8 && google_cloudfunctions2_function.this.service_config[0].max_instance_count == 3
    error_message = "scaling is applied"
  }
  assert {
    condition     = startswith(google_storage_bucket_object.source.name, "functions/customerio-dev-track-")
    error_message = "the source object is named by content hash"
  }
  assert {
    condition     = output.service == "projects/acme-customerio-dev/locations/europe-west1/services/fn-service" && output.service_name == "fn-service"
    error_message = "service is the full resource name, service_name the short name metrics use: ${output.service_name}"
  }
  assert {
    condition     = [for g in google_cloud_run_service_iam_member.invoker : g.service] == ["fn-service"]
    error_message = "run.invoker is granted on the service by its short name, in the function's project and region"
  }
  assert {
    condition     = google_cloudfunctions2_function.this.build_config[0].service_account == "projects/acme-customerio-dev/serviceAccounts/cio-dev-build@acme-customerio-dev.iam.gserviceaccount.com" && google_cloudfunctions2_function.this.build_config[0].docker_repository == var.docker_repository
    error_message = "the build runs as the build account (never the default one) and pushes to our repository"
  }
  assert {
    condition     = google_service_account.this.account_id == "cio-dev-track"
    error_message = "the function runs as its own account, with the id the caller derived"
  }
}

run "webhook_is_public" {
  command = apply
  module {
    source = "./modules/function"
  }
  variables {
    project_id     = "acme-customerio-dev"
    region         = "europe-west1"
    name           = "customerio-dev-webhook-ingest"
    entry_point    = "webhook_ingest"
    source_archive = "../build/functions/webhook_ingest.zip"
    source_bucket  = "sources"
    public         = true
    scaling        = { max_instances = 20 }

    service_account_id          = "cio-dev-webhook"
    build_service_account_email = "cio-dev-build@acme-customerio-dev.iam.gserviceaccount.com"
    docker_repository           = "projects/acme-customerio-dev/locations/europe-west1/repositories/customerio-dev-functions"
  }
  assert {
    condition     = google_cloudfunctions2_function.this.service_config[0].ingress_settings == "ALLOW_ALL" && [for g in google_cloud_run_service_iam_member.invoker : g.member] == ["allUsers"]
    error_message = "webhook-ingest is public (it verifies signatures itself)"
  }
}

run "secrets_are_containers_read_only_by_their_function" {
  command = apply
  module {
    source = "./modules/secrets"
  }
  variables {
    project_id = "acme-customerio-dev"
    prefix     = "customerio-dev"
    accessors  = { app_api_key = { transactional = "serviceAccount:fn-transactional@x.iam.gserviceaccount.com" } }
  }
  assert {
    condition     = length(google_secret_manager_secret.this) == 5
    error_message = "five secret containers"
  }
  assert {
    condition     = [for g in google_secret_manager_secret_iam_member.accessor : "${g.secret_id} ${g.member}"] == ["customerio-dev-app-api-key serviceAccount:fn-transactional@x.iam.gserviceaccount.com"]
    error_message = "each accessor reads just its secrets"
  }
}

run "bigquery_table_from_the_shared_schema" {
  command = apply
  module {
    source = "./modules/bigquery_events"
  }
  variables {
    project_id = "acme-customerio-dev"
    dataset_id = "customerio"
    location   = "EU"
    schema_dir = "../shared/src/customerio_gcp/webhooks/bigquery"
  }
  assert {
    condition     = google_bigquery_table.events.time_partitioning[0].field == "event_timestamp" && join(",", google_bigquery_table.events.clustering) == "object_type,metric"
    error_message = "partitioned by event day, clustered on object_type and metric"
  }
  assert {
    condition     = [for f in jsondecode(google_bigquery_table.events.schema) : f.name][0] == "event_id"
    error_message = "the schema is the shared file"
  }
  assert {
    condition     = strcontains(google_bigquery_table.delivery_funnel.view[0].query, "`acme-customerio-dev.customerio.events_unique`")
    error_message = "the funnel reads the de-duplicating view"
  }
}

run "rejects_unknown_environment" {
  command = plan
  variables { environment = "qa" }
  expect_failures = [var.environment]
}

run "rejects_unknown_customerio_region" {
  command = plan
  variables { customerio = { region = "asia" } }
  expect_failures = [var.customerio]
}

run "rejects_oversubscribed_track_budget" {
  command = plan
  variables { customerio = { track_share = { identify = 0.8, track = 0.5 } } }
  expect_failures = [var.customerio]
}

run "rejects_short_idempotency_ttl" {
  command = plan
  variables { idempotency_ttl_days = 3 }
  expect_failures = [var.idempotency_ttl_days]
}

run "rejects_unknown_personal_data_mode" {
  command = plan
  variables { webhook = { personal_data = "maybe" } }
  expect_failures = [var.webhook]
}

run "rejects_zero_concurrency" {
  command = plan
  variables { functions = { concurrency = 0 } }
  expect_failures = [var.functions]
}

run "rejects_a_coalescing_concurrency_beyond_250" {
  command = plan
  variables { functions = { track_concurrency = 1000 } }
  expect_failures = [var.functions]
}

run "alerts_match_cloud_run_short_service_names" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    project_id                = "acme-customerio-dev"
    environment               = "dev"
    success_lines             = { operation = ["success", "skipped"], delivery = ["delivered"], webhook = ["accepted"] }
    functions                 = { track = "customerio-dev-track", webhook = "customerio-dev-webhook-ingest" }
    dead_letter_subscriptions = { track = "customerio-track-dead-letter-inspect" }
    webhook = {
      service_name              = "customerio-dev-webhook-ingest"
      quarantine_subscription   = "customerio-webhook-quarantine-inspect"
      dead_letter_subscriptions = { bigquery = "customerio-webhook-events-bigquery-dead-letter-inspect" }
    }
  }
  assert {
    condition     = alltrue([for c in google_monitoring_alert_policy.function_crashes.conditions : strcontains(c.condition_threshold[0].filter, "resource.labels.service_name=\"customerio-dev-")])
    error_message = "the 5xx alert compares resource.labels.service_name with the short service name"
  }
  assert {
    condition     = time_sleep.log_metrics_visible.create_duration == "600s"
    error_message = "alerts on log-based metrics wait for Cloud Monitoring to see new metrics"
  }
}

run "monitoring_rejects_a_full_service_path" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    project_id                = "acme-customerio-dev"
    environment               = "dev"
    success_lines             = { operation = ["success", "skipped"], delivery = ["delivered"], webhook = ["accepted"] }
    functions                 = { track = "projects/acme-customerio-dev/locations/europe-west1/services/customerio-dev-track" }
    dead_letter_subscriptions = { track = "customerio-track-dead-letter-inspect" }
    webhook = {
      service_name              = "customerio-dev-webhook-ingest"
      quarantine_subscription   = "customerio-webhook-quarantine-inspect"
      dead_letter_subscriptions = { bigquery = "customerio-webhook-events-bigquery-dead-letter-inspect" }
    }
  }
  expect_failures = [var.functions]
}

run "function_rejects_an_account_id_ending_in_a_hyphen" {
  command = plan
  module {
    source = "./modules/function"
  }
  variables {
    project_id                  = "acme-customerio-dev"
    region                      = "europe-west1"
    name                        = "customerio-staging-webhook-ingest"
    entry_point                 = "webhook_ingest"
    source_archive              = "../build/functions/webhook_ingest.zip"
    source_bucket               = "sources"
    scaling                     = { max_instances = 1 }
    service_account_id          = "fn-customerio-staging-webhook-"
    build_service_account_email = "cio-staging-build@acme-customerio-dev.iam.gserviceaccount.com"
    docker_repository           = "projects/acme-customerio-dev/locations/europe-west1/repositories/customerio-staging-functions"
  }
  expect_failures = [var.service_account_id]
}

run "function_rejects_the_default_build_account" {
  command = plan
  module {
    source = "./modules/function"
  }
  variables {
    project_id                  = "acme-customerio-dev"
    region                      = "europe-west1"
    name                        = "customerio-dev-track"
    entry_point                 = "track"
    source_archive              = "../build/functions/track.zip"
    source_bucket               = "sources"
    scaling                     = { max_instances = 1 }
    service_account_id          = "cio-dev-track"
    build_service_account_email = "123456789012@cloudbuild.gserviceaccount.com"
    docker_repository           = "projects/acme-customerio-dev/locations/europe-west1/repositories/customerio-dev-functions"
  }
  expect_failures = [var.build_service_account_email]
}

run "never_lost_dead_letters_kept_31_days" {
  command = apply
  module {
    source = "./modules/pubsub_pipeline"
  }
  variables {
    project_id             = "acme-customerio-dev"
    project_number         = "123456789012"
    pipeline               = jsondecode(file("../shared/src/customerio_gcp/pipeline.json"))
    invoker_email          = "cio-dev-push@acme-customerio-dev.iam.gserviceaccount.com"
    endpoints              = { identify = "https://identify.a.run.app", track = "https://track.a.run.app", transactional = "https://transactional.a.run.app" }
    webhook_bigquery_table = { project = "acme-customerio-dev", dataset_id = "customerio", table_id = "events" }
  }
  assert {
    condition = alltrue(concat(
      [for t in google_pubsub_topic.dead_letter : t.message_retention_duration == "2678400s"],
      [for s in google_pubsub_subscription.dead_letter_inspect : s.message_retention_duration == "2678400s"],
      [for t in google_pubsub_topic.webhook_dead_letter : t.message_retention_duration == "2678400s"],
      [for s in google_pubsub_subscription.webhook_dead_letter_inspect : s.message_retention_duration == "2678400s"],
      [google_pubsub_topic.webhook_quarantine.message_retention_duration == "2678400s", google_pubsub_subscription.webhook_quarantine.message_retention_duration == "2678400s"],
    ))
    error_message = "every dead-letter and quarantine topic and subscription keeps messages 31 days, Pub/Sub's maximum"
  }
  assert {
    condition     = alltrue([for s in google_pubsub_subscription.dead_letter_inspect : s.expiration_policy[0].ttl == ""])
    error_message = "dead-letter subscriptions never expire"
  }
}

run "rejects_dead_letters_kept_less_than_the_maximum" {
  command = plan
  module {
    source = "./modules/pubsub_pipeline"
  }
  variables {
    project_id             = "acme-customerio-dev"
    project_number         = "123456789012"
    pipeline               = merge(jsondecode(file("../shared/src/customerio_gcp/pipeline.json")), { dead_letter_retention_s = 604800 })
    invoker_email          = "cio-dev-push@acme-customerio-dev.iam.gserviceaccount.com"
    endpoints              = { track = "https://track.a.run.app" }
    webhook_bigquery_table = { project = "acme-customerio-dev", dataset_id = "customerio", table_id = "events" }
  }
  expect_failures = [var.pipeline]
}

run "rejects_prod_without_a_notification_channel" {
  command = plan
  variables {
    environment           = "prod"
    notification_channels = []
  }
  expect_failures = [var.notification_channels]
}

run "configuration_errors_alert_a_person" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    project_id                = "acme-customerio-dev"
    environment               = "dev"
    success_lines             = { operation = ["success", "skipped"], delivery = ["delivered"], webhook = ["accepted"] }
    functions                 = { track = "customerio-dev-track" }
    dead_letter_subscriptions = { track = "customerio-track-dead-letter-inspect" }
    notification_channels     = ["projects/acme-customerio-dev/notificationChannels/42"]
    webhook = {
      service_name              = "customerio-dev-webhook-ingest"
      quarantine_subscription   = "customerio-webhook-quarantine-inspect"
      dead_letter_subscriptions = { bigquery = "customerio-webhook-events-bigquery-dead-letter-inspect" }
    }
  }
  assert {
    condition     = output.configuration_errors_filter == "resource.type=\"cloud_run_revision\" AND jsonPayload.metric=\"delivery\" AND jsonPayload.outcome=\"retry\" AND jsonPayload.error_class=(\"AuthenticationError\" OR \"ForbiddenError\" OR \"RegionMismatchError\")"
    error_message = "the metric counts retried deliveries Customer.io refused for credentials or region: ${output.configuration_errors_filter}"
  }
  assert {
    condition     = strcontains(google_monitoring_alert_policy.configuration_errors.conditions[0].condition_threshold[0].filter, "logging.googleapis.com/user/customerio/configuration_errors") && google_monitoring_alert_policy.configuration_errors.conditions[0].condition_threshold[0].threshold_value == 0 && google_monitoring_alert_policy.configuration_errors.notification_channels == tolist(["projects/acme-customerio-dev/notificationChannels/42"])
    error_message = "any configuration error alerts the notification channels"
  }
  assert {
    condition     = strcontains(time_sleep.log_metrics_visible.triggers.metrics, "customerio/configuration_errors")
    error_message = "the alert waits for its new metric like the others"
  }
}

run "warm_instances_per_function" {
  command = plan
  variables {
    functions = { min_instances = { webhook_ingest = 1, transactional = 2 } }
  }
  assert {
    condition = (
      module.webhook_ingest.min_instances == 1 &&
      module.delivery["transactional"].min_instances == 2 &&
      module.delivery["track"].min_instances == 0
    )
    error_message = "min_instances must reach each function's service_config, 0 where unset"
  }
}

run "rejects_warm_instances_for_an_unknown_function" {
  command = plan
  variables {
    functions = { min_instances = { webhook = 1 } }
  }
  expect_failures = [var.functions]
}

run "success_lines_are_sampled_in_storage_and_counted_in_full" {
  command = apply
  module {
    source = "./modules/monitoring"
  }
  variables {
    project_id                = "acme-customerio-prod"
    environment               = "prod"
    functions                 = { identify = "customerio-prod-identify", track = "customerio-prod-track", transactional = "customerio-prod-transactional", webhook = "customerio-prod-webhook-ingest" }
    dead_letter_subscriptions = { track = "customerio-track-dead-letter-inspect" }
    success_lines             = { operation = ["success", "skipped"], delivery = ["delivered"], webhook = ["accepted"] }
    success_log_functions     = ["track", "identify", "webhook"]
    success_log_sampling      = 0.1
    webhook = {
      service_name              = "customerio-prod-webhook-ingest"
      quarantine_subscription   = "customerio-webhook-quarantine-inspect"
      dead_letter_subscriptions = { bigquery = "customerio-webhook-events-bigquery-dead-letter-inspect" }
    }
  }
  assert {
    condition     = google_logging_project_exclusion.success_lines[0].filter == "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(\"customerio-prod-identify\" OR \"customerio-prod-track\" OR \"customerio-prod-webhook-ingest\") AND ((logName=\"projects/acme-customerio-prod/logs/run.googleapis.com%2Frequests\" AND httpRequest.status<400) OR (severity=INFO AND ((jsonPayload.metric=\"delivery\" AND jsonPayload.outcome=(\"delivered\")) OR (jsonPayload.metric=\"operation\" AND jsonPayload.outcome=(\"success\" OR \"skipped\")) OR (jsonPayload.metric=\"webhook\" AND jsonPayload.outcome=(\"accepted\"))))) AND sample(insertId, 0.9)"
    error_message = "the exclusion drops 90% of the answered-request entries and INFO success lines of the sampled functions (not transactional), and nothing else"
  }
  assert {
    condition     = google_logging_project_exclusion.success_lines[0].name == "customerio-prod-success-lines"
    error_message = "each environment has its own exclusion (two environments may share a project)"
  }
  assert {
    condition     = google_logging_metric.webhook_quarantined.filter == "resource.type=\"cloud_run_revision\" AND jsonPayload.metric=\"webhook_quarantine\"" && google_logging_metric.webhook_quarantined.label_extractors["kind"] == "EXTRACT(jsonPayload.kind)"
    error_message = "quarantined webhook content is counted, by kind, from webhook-ingest's warning line"
  }
  assert {
    condition     = google_logging_metric.operation_errors.filter == "resource.type=\"cloud_run_revision\" AND jsonPayload.metric=\"operation\" AND jsonPayload.outcome=(\"transient_error\" OR \"permanent_error\")"
    error_message = "only raised errors count as failed operations, not operations skipped as unchanged or for a deleted person"
  }
}

run "success_log_sampling_of_one_keeps_every_line" {
  command = plan
  module {
    source = "./modules/monitoring"
  }
  variables {
    functions                 = { track = "customerio-dev-track" }
    dead_letter_subscriptions = { track = "customerio-track-dead-letter-inspect" }
    success_lines             = { operation = ["success"] }
    success_log_functions     = ["track"]
    success_log_sampling      = 1
    webhook = {
      service_name              = "customerio-dev-webhook-ingest"
      quarantine_subscription   = "customerio-webhook-quarantine-inspect"
      dead_letter_subscriptions = { bigquery = "customerio-webhook-events-bigquery-dead-letter-inspect" }
    }
  }
  assert {
    condition     = length(google_logging_project_exclusion.success_lines) == 0
    error_message = "a sampling of 1 creates no exclusion"
  }
}

run "the_root_samples_success_lines_from_pipeline_json" {
  command = apply
  # A state of its own: the functions are created here, so the service names below apply.
  state_key = "success_lines"
  override_resource {
    target = module.delivery["identify"].google_cloudfunctions2_function.this
    values = { service_config = { uri = "https://fn-abc.a.run.app", service = "projects/acme-customerio-dev/locations/europe-west1/services/customerio-dev-identify" } }
  }
  override_resource {
    target = module.delivery["track"].google_cloudfunctions2_function.this
    values = { service_config = { uri = "https://fn-abc.a.run.app", service = "projects/acme-customerio-dev/locations/europe-west1/services/customerio-dev-track" } }
  }
  override_resource {
    target = module.delivery["transactional"].google_cloudfunctions2_function.this
    values = { service_config = { uri = "https://fn-abc.a.run.app", service = "projects/acme-customerio-dev/locations/europe-west1/services/customerio-dev-transactional" } }
  }
  override_resource {
    target = module.webhook_ingest.google_cloudfunctions2_function.this
    values = { service_config = { uri = "https://fn-abc.a.run.app", service = "projects/acme-customerio-dev/locations/europe-west1/services/customerio-dev-webhook-ingest" } }
  }
  assert {
    condition     = module.monitoring.success_lines_exclusion_filter == "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=(\"customerio-dev-identify\" OR \"customerio-dev-track\" OR \"customerio-dev-webhook-ingest\") AND ((logName=\"projects/acme-customerio-dev/logs/run.googleapis.com%2Frequests\" AND httpRequest.status<400) OR (severity=INFO AND ((jsonPayload.metric=\"delivery\" AND jsonPayload.outcome=(\"delivered\")) OR (jsonPayload.metric=\"operation\" AND jsonPayload.outcome=(\"success\" OR \"skipped\")) OR (jsonPayload.metric=\"webhook\" AND jsonPayload.outcome=(\"accepted\"))))) AND sample(insertId, 0.9)"
    error_message = "the root samples pipeline.json's success lines of identify, track and webhook-ingest (transactional keeps every line), 10% kept by default"
  }
}

run "rejects_a_success_log_sampling_outside_0_to_1" {
  command = plan
  variables {
    success_log_sampling = 1.5
  }
  expect_failures = [var.success_log_sampling]
}

run "rejects_a_negative_success_log_sampling" {
  command = plan
  variables {
    success_log_sampling = -0.1
  }
  expect_failures = [var.success_log_sampling]
}
