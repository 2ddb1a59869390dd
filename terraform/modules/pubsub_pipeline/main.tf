# Topics, dead-letter topics, push subscriptions to the functions, and the grants Pub/Sub's
# own service agent needs: without publisher on the dead-letter topic and subscriber on the
# source subscription, nothing is ever dead-lettered (Fabric's pubsub module misses these).
# Push subscriptions are ours, not Eventarc's, because an Eventarc trigger cannot carry a
# dead-letter policy.

locals {
  service_agent = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  delivery      = var.pipeline.delivery
  kinds         = { for kind, spec in var.pipeline.topics : kind => spec if contains(keys(var.endpoints), kind) }
  # Topic ids as the API forms them (projects/P/topics/NAME), from the topics' names: the same
  # value as `.id`, and one that offline plans with mocked resources can check.
  topic_ids = "projects/${var.project_id}/topics"
}

# Pub/Sub mints the OIDC tokens of push requests as the invoker account.
resource "google_service_account_iam_member" "token_creator" {
  service_account_id = "projects/${var.project_id}/serviceAccounts/${var.invoker_email}"
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.service_agent
}

resource "google_pubsub_topic" "source" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; customer-managed keys are not required for this data (add a KMS key if your policy demands it)
  for_each                   = local.kinds
  project                    = var.project_id
  name                       = each.value.topic
  labels                     = var.labels
  message_retention_duration = "${local.delivery.message_retention_s}s"
}

resource "google_pubsub_topic" "dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; customer-managed keys are not required for this data (add a KMS key if your policy demands it)
  for_each                   = local.kinds
  project                    = var.project_id
  name                       = "${each.value.topic}${var.pipeline.dead_letter_suffix}"
  labels                     = var.labels
  message_retention_duration = "${var.pipeline.dead_letter_retention_s}s"
}

# Keeps dead letters for inspection and replay (`customerio-gcp dlq ...`).
resource "google_pubsub_subscription" "dead_letter_inspect" {
  for_each                   = local.kinds
  project                    = var.project_id
  name                       = "${each.value.topic}${var.pipeline.dead_letter_subscription_suffix}"
  topic                      = "${local.topic_ids}/${google_pubsub_topic.dead_letter[each.key].name}"
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = "${var.pipeline.dead_letter_retention_s}s"
  retain_acked_messages      = false
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "push" {
  for_each                   = local.kinds
  project                    = var.project_id
  name                       = "${each.value.topic}${var.pipeline.push_subscription_suffix}"
  topic                      = "${local.topic_ids}/${google_pubsub_topic.source[each.key].name}"
  labels                     = var.labels
  ack_deadline_seconds       = local.delivery.ack_deadline_s
  message_retention_duration = "${local.delivery.message_retention_s}s"

  push_config {
    push_endpoint = var.endpoints[each.key]
    oidc_token {
      service_account_email = var.invoker_email
      audience              = var.endpoints[each.key]
    }
  }

  retry_policy {
    minimum_backoff = "${local.delivery.minimum_backoff_s}s"
    maximum_backoff = "${local.delivery.maximum_backoff_s}s"
  }

  dead_letter_policy {
    dead_letter_topic     = "${local.topic_ids}/${google_pubsub_topic.dead_letter[each.key].name}"
    max_delivery_attempts = local.delivery.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "agent_publishes_dead_letters" {
  for_each = local.kinds
  project  = var.project_id
  topic    = google_pubsub_topic.dead_letter[each.key].name
  role     = "roles/pubsub.publisher"
  member   = local.service_agent
}

resource "google_pubsub_subscription_iam_member" "agent_subscribes_source" {
  for_each     = local.kinds
  project      = var.project_id
  subscription = google_pubsub_subscription.push[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.service_agent
}

# A function dead-letters permanent failures itself (with the reason) on its own topic only.
resource "google_pubsub_topic_iam_member" "function_publishes_dead_letters" {
  for_each = { for kind, member in var.dead_letter_publishers : kind => member if contains(keys(local.kinds), kind) }
  project  = var.project_id
  topic    = google_pubsub_topic.dead_letter[each.key].name
  role     = "roles/pubsub.publisher"
  member   = each.value
}

# --- Reporting webhooks, durable first (issue 13) -------------------------------------------------
# webhook-ingest verifies the signature, publishes one message per event to the events topic and
# answers; nothing it accepts depends on BigQuery being up. From the topic:
#   - a BigQuery subscription writes each message (one JSON row of events_table.json) into the
#     events table, dead-lettering what BigQuery refuses;
#   - a filtered subscription routes the metrics the application acts on (bounces, spam reports,
#     unsubscribes...) to its endpoint, or keeps them for it to pull;
# and signed bodies that cannot be parsed go whole to the quarantine topic, kept 31 days.

locals {
  webhook             = var.pipeline.webhook
  routing_dead_letter = "${local.webhook.routing_subscription}${var.pipeline.dead_letter_suffix}"
  # Pub/Sub filter syntax (at most 256 bytes): attributes.metric = "bounced" OR attributes.metric = "spammed" ...
  routing_filter = join(" OR ", [for metric in local.webhook.routed_metrics : "attributes.metric = \"${metric}\""])
  webhook_dead_letter_topics = {
    bigquery = local.webhook.bigquery_dead_letter_topic
    routing  = local.routing_dead_letter
  }
  webhook_dead_letter_subscriptions = {
    bigquery = "${local.webhook.bigquery_subscription}${var.pipeline.dead_letter_subscription_suffix}"
    routing  = "${local.webhook.routing_subscription}${var.pipeline.dead_letter_subscription_suffix}"
  }
}

resource "google_pubsub_topic" "webhook_events" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; customer-managed keys are not required for this data (add a KMS key if your policy demands it)
  project                    = var.project_id
  name                       = local.webhook.events_topic
  labels                     = var.labels
  message_retention_duration = "${local.delivery.message_retention_s}s"
}

resource "google_pubsub_topic" "webhook_quarantine" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; customer-managed keys are not required for this data (add a KMS key if your policy demands it)
  project                    = var.project_id
  name                       = local.webhook.quarantine_topic
  labels                     = var.labels
  message_retention_duration = "${var.pipeline.dead_letter_retention_s}s"
}

# Quarantined bodies wait here for `customerio-gcp webhooks reprocess`.
resource "google_pubsub_subscription" "webhook_quarantine" {
  project                    = var.project_id
  name                       = local.webhook.quarantine_subscription
  topic                      = "${local.topic_ids}/${google_pubsub_topic.webhook_quarantine.name}"
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = "${var.pipeline.dead_letter_retention_s}s"
  retain_acked_messages      = false
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic" "webhook_dead_letter" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; customer-managed keys are not required for this data (add a KMS key if your policy demands it)
  for_each                   = local.webhook_dead_letter_topics
  project                    = var.project_id
  name                       = each.value
  labels                     = var.labels
  message_retention_duration = "${var.pipeline.dead_letter_retention_s}s"
}

resource "google_pubsub_subscription" "webhook_dead_letter_inspect" {
  for_each                   = local.webhook_dead_letter_subscriptions
  project                    = var.project_id
  name                       = each.value
  topic                      = "${local.topic_ids}/${google_pubsub_topic.webhook_dead_letter[each.key].name}"
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = "${var.pipeline.dead_letter_retention_s}s"
  retain_acked_messages      = false
  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub's service agent writes the rows: dataset-level dataEditor (insert into the table) and
# metadataViewer (read the table's schema for use_table_schema).
resource "google_bigquery_dataset_iam_member" "agent_writes_events" {
  for_each   = toset(["roles/bigquery.dataEditor", "roles/bigquery.metadataViewer"])
  project    = var.webhook_bigquery_table.project
  dataset_id = var.webhook_bigquery_table.dataset_id
  role       = each.value
  member     = local.service_agent
}

resource "google_pubsub_subscription" "webhook_bigquery" {
  project                    = var.project_id
  name                       = local.webhook.bigquery_subscription
  topic                      = "${local.topic_ids}/${google_pubsub_topic.webhook_events.name}"
  labels                     = var.labels
  message_retention_duration = "${local.delivery.message_retention_s}s"

  bigquery_config {
    table = "${var.webhook_bigquery_table.project}.${var.webhook_bigquery_table.dataset_id}.${var.webhook_bigquery_table.table_id}"
    # The message data is one JSON row of events_table.json, written column by column.
    use_table_schema = true
    # A field the table lacks means code and table drifted apart: the message is dead-lettered
    # (kept 31 days, alerted on, replayable) rather than written without it.
    drop_unknown_fields = false
    # The table has no subscription_name/message_id/publish_time/attributes columns.
    write_metadata = false
  }

  dead_letter_policy {
    dead_letter_topic     = "${local.topic_ids}/${google_pubsub_topic.webhook_dead_letter["bigquery"].name}"
    max_delivery_attempts = local.delivery.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_bigquery_dataset_iam_member.agent_writes_events]
}

resource "google_pubsub_subscription" "webhook_routing" {
  project                    = var.project_id
  name                       = local.webhook.routing_subscription
  topic                      = "${local.topic_ids}/${google_pubsub_topic.webhook_events.name}"
  labels                     = var.labels
  filter                     = local.routing_filter
  ack_deadline_seconds       = local.delivery.ack_deadline_s
  message_retention_duration = "${local.delivery.message_retention_s}s"

  # Pushed to the application when it has an endpoint (with an OIDC token it can verify); pulled by
  # it otherwise.
  dynamic "push_config" {
    for_each = var.webhook_app_endpoint == null ? [] : [var.webhook_app_endpoint]
    content {
      push_endpoint = push_config.value
      oidc_token {
        service_account_email = var.invoker_email
        audience              = push_config.value
      }
    }
  }

  retry_policy {
    minimum_backoff = "${local.delivery.minimum_backoff_s}s"
    maximum_backoff = "${local.delivery.maximum_backoff_s}s"
  }

  dead_letter_policy {
    dead_letter_topic     = "${local.topic_ids}/${google_pubsub_topic.webhook_dead_letter["routing"].name}"
    max_delivery_attempts = local.delivery.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "agent_publishes_webhook_dead_letters" {
  for_each = local.webhook_dead_letter_topics
  project  = var.project_id
  topic    = google_pubsub_topic.webhook_dead_letter[each.key].name
  role     = "roles/pubsub.publisher"
  member   = local.service_agent
}

resource "google_pubsub_subscription_iam_member" "agent_subscribes_webhook" {
  for_each = {
    bigquery = google_pubsub_subscription.webhook_bigquery.name
    routing  = google_pubsub_subscription.webhook_routing.name
  }
  project      = var.project_id
  subscription = each.value
  role         = "roles/pubsub.subscriber"
  member       = local.service_agent
}

# webhook-ingest's only rights here: publish events and quarantined bodies.
resource "google_pubsub_topic_iam_member" "webhook_publishes" {
  for_each = merge([
    for key, member in var.webhook_publishers : {
      "${key}/events"     = { topic = google_pubsub_topic.webhook_events.name, member = member }
      "${key}/quarantine" = { topic = google_pubsub_topic.webhook_quarantine.name, member = member }
    }
  ]...)
  project = var.project_id
  topic   = each.value.topic
  role    = "roles/pubsub.publisher"
  member  = each.value.member
}
