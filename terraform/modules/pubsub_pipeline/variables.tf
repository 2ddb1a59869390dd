variable "project_id" {
  description = "Project of the topics and subscriptions."
  type        = string
}

variable "project_number" {
  description = "Project number, to name Pub/Sub's service agent (service-NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com)."
  type        = string
}

variable "pipeline" {
  description = "The decoded shared/src/customerio_gcp/pipeline.json: topic names and delivery settings, the same the code uses."
  type = object({
    topics = map(object({ topic = string, function = string }))
    webhook = object({
      events_topic               = string
      bigquery_subscription      = string
      bigquery_dead_letter_topic = string
      routing_subscription       = string
      routed_metrics             = list(string)
      quarantine_topic           = string
      quarantine_subscription    = string
    })
    dead_letter_suffix              = string
    push_subscription_suffix        = string
    dead_letter_subscription_suffix = string
    delivery = object({
      max_delivery_attempts = number
      minimum_backoff_s     = number
      maximum_backoff_s     = number
      ack_deadline_s        = number
      message_retention_s   = number
    })
    dead_letter_retention_s = number
  })
  validation {
    condition     = var.pipeline.delivery.max_delivery_attempts >= 5 && var.pipeline.delivery.max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts max_delivery_attempts between 5 and 100."
  }
  validation {
    condition     = var.pipeline.delivery.minimum_backoff_s <= var.pipeline.delivery.maximum_backoff_s && var.pipeline.delivery.maximum_backoff_s <= 600
    error_message = "Backoff must satisfy minimum <= maximum <= 600 seconds."
  }
  validation {
    # Pub/Sub's maximum for topic and subscription message_retention_duration: 31 days
    # (Topic.yaml in magic-modules; cloud.google.com/pubsub/docs/subscription-properties).
    condition     = var.pipeline.dead_letter_retention_s == 31 * 86400
    error_message = "dead_letter_retention_s must be 2678400 (31 days, Pub/Sub's maximum): dead letters are kept as long as Pub/Sub allows."
  }
  validation {
    condition     = length(var.pipeline.webhook.routed_metrics) > 0 && alltrue([for m in var.pipeline.webhook.routed_metrics : can(regex("^[a-z_]+$", m))])
    error_message = "webhook.routed_metrics must list at least one Customer.io metric name (lower-case letters and '_')."
  }
  validation {
    condition     = var.pipeline.webhook.bigquery_dead_letter_topic == "${var.pipeline.webhook.bigquery_subscription}${var.pipeline.dead_letter_suffix}"
    error_message = "webhook.bigquery_dead_letter_topic must be the BigQuery subscription's name with dead_letter_suffix, as the code and the dlq tools expect."
  }
}

variable "invoker_email" {
  description = "Service account the push subscriptions authenticate as (OIDC); it must hold run.invoker on the functions."
  type        = string
}

variable "endpoints" {
  description = "Push endpoint (the function URL) per topic kind: identify, track, transactional."
  type        = map(string)
}

variable "dead_letter_publishers" {
  description = "Per topic kind, the member allowed to publish permanent failures to that kind's dead-letter topic (its function's service account)."
  type        = map(string)
  default     = {}
}

variable "webhook_publishers" {
  description = "Members allowed to publish to the webhook events and quarantine topics (webhook-ingest's service account), by a static key."
  type        = map(string)
  default     = {}
}

variable "webhook_bigquery_table" {
  description = "The events table the BigQuery subscription writes to; Pub/Sub's service agent gets dataEditor and metadataViewer on its dataset."
  type = object({
    project    = string
    dataset_id = string
    table_id   = string
  })
}

variable "webhook_app_endpoint" {
  description = "HTTPS endpoint of the application that acts on routed webhook events (bounces, unsubscribes...); null: the application pulls the routing subscription."
  type        = string
  default     = null
  validation {
    condition     = var.webhook_app_endpoint == null || can(regex("^https://", var.webhook_app_endpoint))
    error_message = "webhook_app_endpoint must be an https:// URL, or null to pull."
  }
}

variable "labels" {
  description = "Labels on topics and subscriptions."
  type        = map(string)
  default     = {}
}
