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
    topics                          = map(object({ topic = string, function = string }))
    webhook_events_topic            = string
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

variable "webhook_events_publishers" {
  description = "Members allowed to publish to the webhook events topic (webhook-ingest's service account), by a static key."
  type        = map(string)
  default     = {}
}

variable "labels" {
  description = "Labels on topics and subscriptions."
  type        = map(string)
  default     = {}
}
