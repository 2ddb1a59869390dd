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

resource "google_pubsub_topic" "webhook_events" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption at rest; customer-managed keys are not required for this data (add a KMS key if your policy demands it)
  project                    = var.project_id
  name                       = var.pipeline.webhook_events_topic
  labels                     = var.labels
  message_retention_duration = "${local.delivery.message_retention_s}s"
}

resource "google_pubsub_topic_iam_member" "webhook_events_publisher" {
  for_each = var.webhook_events_publishers
  project  = var.project_id
  topic    = google_pubsub_topic.webhook_events.name
  role     = "roles/pubsub.publisher"
  member   = each.value
}
