"""Customer.io reporting webhooks: signature check, event models, BigQuery rows, routing publish.

The data path, top to bottom: `handler.WebhookHandler.handle` → `signature.verify` →
`events.parse_events` → `rows.to_row` → `sink.BigQuerySink.insert` → `routing.EventRouter.publish`.
"""
