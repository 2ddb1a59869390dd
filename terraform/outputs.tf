output "webhook_url" {
  description = "Point Customer.io's reporting webhook here (README, \"Pointing Customer.io at it\")."
  value       = module.webhook_ingest.url
}

output "topics" {
  description = "Topics the application publishes to, by kind."
  value       = module.pubsub.topics
}

output "dead_letter_subscriptions" {
  description = "Where undeliverable messages wait, by kind."
  value       = module.pubsub.dead_letter_subscriptions
}

output "webhook_events_topic" {
  description = "Topic webhook-ingest publishes one message per accepted reporting event to."
  value       = module.pubsub.webhook_events_topic
}

output "webhook_subscriptions" {
  description = "bigquery: writes the events table; routing: the metrics the application acts on (pull it if webhook.app_endpoint is unset); quarantine: signed bodies that could not be parsed."
  value       = module.pubsub.webhook_subscriptions
}

output "bigquery" {
  description = "Dataset, table and views of reporting events."
  value       = { dataset = module.bigquery.dataset_id, table = module.bigquery.table_id, views = module.bigquery.views }
}

output "secrets" {
  description = "Secret ids to add values to: gcloud secrets versions add ID --data-file=-"
  value       = module.secrets.ids
}

output "max_instances" {
  description = "Max instances derived from the Customer.io rate budgets, by delivery function."
  value       = local.max_instances
}

output "delivery_scaling" {
  description = "Per delivery function: concurrency per instance, max instances and, for the coalescing Track functions, the Track API requests per second each instance may send."
  value = {
    for kind in keys(local.max_instances) : kind => {
      concurrency            = local.concurrency[kind]
      max_instances          = local.max_instances[kind]
      track_rps_per_instance = lookup(local.track_rps_per_instance, kind, null)
    }
  }
}

output "names" {
  description = "Every derived name and id of this environment (service accounts, functions, bucket, repository), for review and for tests/terraform/test_names.py."
  value = {
    service_accounts = local.account_ids
    functions        = local.function_names
    source_bucket    = local.source_bucket
    repository       = local.repository_id
  }
}
