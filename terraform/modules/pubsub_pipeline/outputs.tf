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
  description = "Topic id accepted webhook events are routed to."
  value       = "${local.topic_ids}/${google_pubsub_topic.webhook_events.name}"
}
