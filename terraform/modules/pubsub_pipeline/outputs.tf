output "topics" {
  description = "Topic names by kind."
  value       = { for k, t in google_pubsub_topic.source : k => t.name }
}

output "dead_letter_topics" {
  description = "Dead-letter topic ids (projects/P/topics/T) by kind, for the functions' DEAD_LETTER_TOPIC."
  value       = { for k, t in google_pubsub_topic.dead_letter : k => "${local.topic_ids}/${t.name}" }
}

output "dead_letter_subscriptions" {
  description = "Subscriptions holding dead letters for inspection, by kind."
  value       = { for k, s in google_pubsub_subscription.dead_letter_inspect : k => s.name }
}

output "push_subscriptions" {
  description = "Push subscription ids by kind (the functions' SOURCE_SUBSCRIPTION)."
  value       = { for k, s in google_pubsub_subscription.push : k => "projects/${var.project_id}/subscriptions/${s.name}" }
}

output "webhook_events_topic" {
  description = "Topic id webhook-ingest publishes one message per accepted event to."
  value       = "${local.topic_ids}/${google_pubsub_topic.webhook_events.name}"
}

output "webhook_quarantine_topic" {
  description = "Topic id signed bodies that cannot be parsed are published to, whole."
  value       = "${local.topic_ids}/${google_pubsub_topic.webhook_quarantine.name}"
}

output "webhook_subscriptions" {
  description = "Webhook subscriptions by role: bigquery (writes the events table), routing (the application's metrics), quarantine (bodies to reprocess)."
  value = {
    bigquery   = google_pubsub_subscription.webhook_bigquery.name
    routing    = google_pubsub_subscription.webhook_routing.name
    quarantine = google_pubsub_subscription.webhook_quarantine.name
  }
}

output "webhook_dead_letter_subscriptions" {
  description = "Where webhook events BigQuery refused (bigquery) or the application never acknowledged (routing) wait."
  value       = { for k, s in google_pubsub_subscription.webhook_dead_letter_inspect : k => s.name }
}
