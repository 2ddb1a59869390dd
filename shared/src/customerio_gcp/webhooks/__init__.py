"""Customer.io reporting webhooks: verified, kept durably in Pub/Sub, answered in time.

The data path, top to bottom: `handler.WebhookHandler.handle` → `body.read_bounded` →
`signature.verify` → `events.parse_event` → `rows.to_row` (or `quarantine.Quarantined`) →
`keeping.EventKeeper.keep` → the answer. BigQuery is written from the events topic by a Pub/Sub
BigQuery subscription; the application reads a filtered subscription of the same topic.
"""
