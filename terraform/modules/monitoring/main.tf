# Metrics from the service layer's structured logs (customerio_gcp.observability), alerts on
# them and on Pub/Sub and Cloud Run, and one dashboard.

locals {
  log_source = "resource.type=\"cloud_run_revision\""
  # Customer.io answers that no retry can fix by itself: a wrong key (401), a key without the
  # right scope (403), the other region's endpoint. The delivery functions retry them.
  configuration_error_classes = ["AuthenticationError", "ForbiddenError", "RegionMismatchError"]
  window                      = "${var.thresholds.window_s}s"
  alert_rate = {
    errors = {
      metric    = google_logging_metric.operation_errors.name
      threshold = var.thresholds.error_rate_per_s
      title     = "Customer.io operations failing"
    }
    rate_limited = {
      metric    = google_logging_metric.rate_limited.name
      threshold = var.thresholds.rate_limited_per_s
      title     = "Customer.io rate limiting (429)"
    }
    webhook_rejections = {
      metric    = google_logging_metric.webhook_rejections.name
      threshold = var.thresholds.webhook_rejections_per_s
      title     = "Webhook rejections spike (bad signatures?)"
    }
  }
}

resource "google_logging_metric" "operation_latency" {
  project         = var.project_id
  name            = "customerio/operation_latency"
  description     = "Latency of each Customer.io operation, from the service layer's metric lines."
  filter          = "${local.log_source} AND jsonPayload.metric=\"operation\""
  value_extractor = "EXTRACT(jsonPayload.latency_ms)"
  label_extractors = {
    operation = "EXTRACT(jsonPayload.operation)"
    outcome   = "EXTRACT(jsonPayload.outcome)"
    function  = "EXTRACT(jsonPayload.function)"
  }
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
    labels {
      key = "operation"
    }
    labels {
      key = "outcome"
    }
    labels {
      key = "function"
    }
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 32
      growth_factor      = 1.5
      scale              = 1
    }
  }
}

resource "google_logging_metric" "operation_errors" {
  project     = var.project_id
  name        = "customerio/operation_errors"
  description = "Failed Customer.io operations by error class."
  # The outcomes `timed` gives a raised error; a skipped operation (unchanged, person deleted) is no failure.
  filter = "${local.log_source} AND jsonPayload.metric=\"operation\" AND jsonPayload.outcome=(\"transient_error\" OR \"permanent_error\")"
  label_extractors = {
    operation   = "EXTRACT(jsonPayload.operation)"
    error_class = "EXTRACT(jsonPayload.error_class)"
    function    = "EXTRACT(jsonPayload.function)"
  }
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key = "operation"
    }
    labels {
      key = "error_class"
    }
    labels {
      key = "function"
    }
  }
}

resource "google_logging_metric" "rate_limited" {
  project     = var.project_id
  name        = "customerio/rate_limited"
  description = "Operations answered 429 by Customer.io."
  filter      = "${local.log_source} AND jsonPayload.metric=\"operation\" AND jsonPayload.error_class=\"RateLimitedError\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_logging_metric" "webhook_rejections" {
  project     = var.project_id
  name        = "customerio/webhook_rejections"
  description = "Webhook requests refused (signature, method, size, body), by reason."
  filter      = "${local.log_source} AND jsonPayload.metric=\"webhook\" AND jsonPayload.outcome=\"rejected\""
  label_extractors = {
    reason = "EXTRACT(jsonPayload.reason)"
  }
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key = "reason"
    }
  }
}

resource "google_logging_metric" "webhook_quarantined" {
  project     = var.project_id
  name        = "customerio/webhook_quarantined"
  description = "Signed webhook content kept in quarantine (answered 200, not parseable), by kind (body or item)."
  filter      = "${local.log_source} AND jsonPayload.metric=\"webhook_quarantine\""
  label_extractors = {
    kind = "EXTRACT(jsonPayload.kind)"
  }
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key = "kind"
    }
  }
}

resource "google_logging_metric" "dead_letters" {
  project     = var.project_id
  name        = "customerio/dead_letters"
  description = "Messages a function dead-lettered, by error class."
  filter      = "${local.log_source} AND jsonPayload.metric=\"delivery\" AND jsonPayload.outcome=\"dead_lettered\""
  label_extractors = {
    error_class = "EXTRACT(jsonPayload.error_class)"
    function    = "EXTRACT(jsonPayload.function)"
  }
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key = "error_class"
    }
    labels {
      key = "function"
    }
  }
}

# Lines that say all went well (pipeline.json logging.success_lines: an operation that succeeded
# or was skipped as unchanged, a message delivered, a webhook request accepted) and Cloud Run's
# request log entries of requests answered below 400 are most of the log volume, two or three
# entries per message, and Cloud Logging bills what its buckets store. This exclusion keeps a
# sample of them in the _Default bucket (`sample(insertId, share excluded)`), for the functions in
# `success_log_functions`. The metrics above stay exact: user-defined log-based metrics that are
# not bucket-scoped (none here sets bucket_name) are computed from every entry the Logging API
# receives, whatever the exclusions (cloud.google.com/logging/docs/logs-based-metrics); the alerts
# on requests read Cloud Run's own request_count metric. Warnings and errors are always kept.
locals {
  sampled_services = sort(distinct([for role in var.success_log_functions : var.functions[role]]))
  success_line_filters = [
    for metric, outcomes in var.success_lines :
    "(jsonPayload.metric=\"${metric}\" AND jsonPayload.outcome=(${join(" OR ", [for o in outcomes : "\"${o}\""])}))"
  ]
}

resource "google_logging_project_exclusion" "success_lines" {
  count       = var.success_log_sampling < 1 && length(var.success_log_functions) > 0 ? 1 : 0
  project     = var.project_id
  name        = "customerio-${var.environment}-success-lines"
  description = "customerio-gcp ${var.environment}: stores a share of ${var.success_log_sampling} of the success lines and answered-request entries; the log-based metrics count all of them."
  filter = join(" AND ", [
    local.log_source,
    "resource.labels.service_name=(${join(" OR ", [for name in local.sampled_services : "\"${name}\""])})",
    "((logName=\"projects/${var.project_id}/logs/run.googleapis.com%2Frequests\" AND httpRequest.status<400) OR (severity=INFO AND (${join(" OR ", local.success_line_filters)})))",
    "sample(insertId, ${1 - var.success_log_sampling})",
  ])
}

# A new log-based metric is unknown to Cloud Monitoring for up to ten minutes: an alert policy on
# it fails with "Cannot find metric(s)" (hashicorp/terraform-provider-google#11102). The policies
# on log-based metrics wait here; the wait is repeated only when the set of metrics changes.
resource "time_sleep" "log_metrics_visible" {
  create_duration = var.metrics_wait
  triggers = {
    metrics = join(",", [
      google_logging_metric.operation_latency.name, google_logging_metric.operation_errors.name,
      google_logging_metric.rate_limited.name, google_logging_metric.webhook_rejections.name,
      google_logging_metric.dead_letters.name, google_logging_metric.configuration_errors.name,
      google_logging_metric.webhook_quarantined.name,
    ])
  }
}

# Customer.io refusing our credentials or workspace region: the delivery functions keep retrying
# these (logged with metric="delivery", outcome="retry") instead of dead-lettering, so nothing is
# lost while a person fixes the key or the region; this metric and its alert are how they learn.
resource "google_logging_metric" "configuration_errors" {
  project     = var.project_id
  name        = "customerio/configuration_errors"
  description = "Deliveries retried because Customer.io refused the credentials or the workspace region."
  filter      = "${local.log_source} AND jsonPayload.metric=\"delivery\" AND jsonPayload.outcome=\"retry\" AND jsonPayload.error_class=(${join(" OR ", [for c in local.configuration_error_classes : "\"${c}\""])})"
  label_extractors = {
    error_class = "EXTRACT(jsonPayload.error_class)"
    function    = "EXTRACT(jsonPayload.function)"
  }
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    labels {
      key = "error_class"
    }
    labels {
      key = "function"
    }
  }
}

resource "google_monitoring_alert_policy" "configuration_errors" {
  project               = var.project_id
  display_name          = "[${var.environment}] Customer.io refuses our credentials or region (deliveries held)"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "Deliveries are being retried, not lost, because Customer.io answers ${join(", ", local.configuration_error_classes)}. Check the Track/App API keys in Secret Manager (a rotated key is read at the next 401) and `customerio.region` (us or eu) of this environment. Messages wait in their subscriptions (7 days) meanwhile."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "configuration errors"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.configuration_errors.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
  depends_on = [time_sleep.log_metrics_visible]
}

resource "google_monitoring_alert_policy" "dead_letters_waiting" {
  project               = var.project_id
  display_name          = "[${var.environment}] Messages waiting in a dead-letter subscription"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "A message could not be delivered to Customer.io. Inspect with `customerio-gcp dlq list`, fix the cause, then `dlq replay`."
    mime_type = "text/markdown"
  }
  dynamic "conditions" {
    for_each = var.dead_letter_subscriptions
    content {
      display_name = "${conditions.key} dead letters"
      condition_threshold {
        filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${conditions.value}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "60s"
        aggregations {
          alignment_period   = "60s"
          per_series_aligner = "ALIGN_MAX"
        }
      }
    }
  }
}

resource "google_monitoring_alert_policy" "log_rate" {
  for_each              = local.alert_rate
  project               = var.project_id
  display_name          = "[${var.environment}] ${each.value.title}"
  combiner              = "OR"
  notification_channels = var.notification_channels
  conditions {
    display_name = each.value.title
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${each.value.metric}\""
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = local.window
      aggregations {
        alignment_period     = local.window
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
  depends_on = [time_sleep.log_metrics_visible]
}

resource "google_monitoring_alert_policy" "function_crashes" {
  project               = var.project_id
  display_name          = "[${var.environment}] Function answering 5xx"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "Delivery functions answer 500 for transient failures (Pub/Sub retries); a sustained rate, or any 5xx from webhook-ingest, means an outage or a crash."
    mime_type = "text/markdown"
  }
  dynamic "conditions" {
    for_each = var.functions
    content {
      display_name = "${conditions.key} 5xx"
      condition_threshold {
        filter          = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${conditions.value}\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code_class=\"5xx\""
        comparison      = "COMPARISON_GT"
        threshold_value = var.thresholds.function_5xx_per_s
        duration        = local.window
        aggregations {
          alignment_period   = local.window
          per_series_aligner = "ALIGN_RATE"
        }
      }
    }
  }
}

# --- reporting webhooks (durable first) ---------------------------------------------------------

# Customer.io stops a reporting webhook's stream after repeated failures: sustained 401s mean the
# signing key in Secret Manager is not the one Customer.io signs with.
resource "google_monitoring_alert_policy" "webhook_unauthorized" {
  project               = var.project_id
  display_name          = "[${var.environment}] Webhook answering 401 (wrong signing key?)"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "webhook-ingest refuses Customer.io's signatures. Compare the reporting webhook's signing key in Customer.io with the secret `webhook_signing_key` (and `_next` during a rotation); Customer.io pauses a webhook that keeps failing."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "webhook 401"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${var.webhook.service_name}\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.labels.response_code=\"401\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.thresholds.webhook_401_per_s
      duration        = local.window
      aggregations {
        alignment_period     = local.window
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "webhook_quarantined" {
  project               = var.project_id
  display_name          = "[${var.environment}] Webhook bodies quarantined"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "Signed webhook bodies that could not be parsed wait in `${var.webhook.quarantine_subscription}` (31 days). Look at one, fix the parser, then `customerio-gcp webhooks reprocess`."
    mime_type = "text/markdown"
  }
  conditions {
    display_name = "quarantined bodies"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${var.webhook.quarantine_subscription}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "60s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
}

resource "google_monitoring_alert_policy" "webhook_dead_letters" {
  project               = var.project_id
  display_name          = "[${var.environment}] Webhook events dead-lettered (BigQuery refused them, or the application never took them)"
  combiner              = "OR"
  notification_channels = var.notification_channels
  documentation {
    content   = "A webhook event could not be written to BigQuery (schema drift, permissions) or delivered to the application. It waits 31 days in its dead-letter subscription: inspect, fix, replay."
    mime_type = "text/markdown"
  }
  dynamic "conditions" {
    for_each = var.webhook.dead_letter_subscriptions
    content {
      display_name = "${conditions.key} dead letters"
      condition_threshold {
        filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${conditions.value}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "60s"
        aggregations {
          alignment_period   = "60s"
          per_series_aligner = "ALIGN_MAX"
        }
      }
    }
  }
}

resource "google_monitoring_dashboard" "this" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "customerio-gcp (${var.environment})"
    mosaicLayout = {
      columns = 12
      tiles = [
        for i, widget in [
          { title = "Operation latency p95 (ms)", metric = google_logging_metric.operation_latency.name, aligner = "ALIGN_DELTA", reducer = "REDUCE_PERCENTILE_95", group = ["metric.label.operation"] },
          { title = "Failed operations by error class", reducer = "REDUCE_SUM", metric = google_logging_metric.operation_errors.name, aligner = "ALIGN_RATE", group = ["metric.label.error_class"] },
          { title = "Rate limited (429)", reducer = "REDUCE_SUM", metric = google_logging_metric.rate_limited.name, aligner = "ALIGN_RATE", group = [] },
          { title = "Dead-lettered by error class", reducer = "REDUCE_SUM", metric = google_logging_metric.dead_letters.name, aligner = "ALIGN_RATE", group = ["metric.label.error_class"] },
          { title = "Webhook rejections by reason", reducer = "REDUCE_SUM", metric = google_logging_metric.webhook_rejections.name, aligner = "ALIGN_RATE", group = ["metric.label.reason"] },
          { title = "Webhook content quarantined by kind", reducer = "REDUCE_SUM", metric = google_logging_metric.webhook_quarantined.name, aligner = "ALIGN_RATE", group = ["metric.label.kind"] },
          { title = "Held: Customer.io refuses credentials or region", reducer = "REDUCE_SUM", metric = google_logging_metric.configuration_errors.name, aligner = "ALIGN_RATE", group = ["metric.label.error_class"] },
          ] : {
          xPos   = (i % 2) * 6
          yPos   = floor(i / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = widget.title
            xyChart = {
              dataSets = [{
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter = "metric.type=\"logging.googleapis.com/user/${widget.metric}\""
                    aggregation = {
                      alignmentPeriod    = "60s"
                      perSeriesAligner   = widget.aligner
                      crossSeriesReducer = widget.reducer
                      groupByFields      = widget.group
                    }
                  }
                }
                plotType = "LINE"
              }]
            }
          }
        }
      ]
    }
  })
}
