-- The delivery funnel per campaign, broadcast, newsletter or transactional message and channel:
-- distinct deliveries that reached each step, and the rates analysts ask for.
WITH events AS (
  SELECT
    CASE
      WHEN campaign_id IS NOT NULL THEN 'campaign'
      WHEN broadcast_id IS NOT NULL THEN 'broadcast'
      WHEN newsletter_id IS NOT NULL THEN 'newsletter'
      WHEN transactional_message_id IS NOT NULL THEN 'transactional'
    END AS message_type,
    COALESCE(campaign_id, broadcast_id, newsletter_id, transactional_message_id) AS message_id,
    object_type AS channel,
    metric,
    COALESCE(delivery_id, event_id) AS delivery_key
  FROM `${project}.${dataset}.${unique_view}`
  WHERE object_type != 'customer'
),
counts AS (
  SELECT
    message_type,
    message_id,
    channel,
    COUNT(DISTINCT IF(metric = 'sent', delivery_key, NULL)) AS sent,
    COUNT(DISTINCT IF(metric = 'delivered', delivery_key, NULL)) AS delivered,
    COUNT(DISTINCT IF(metric = 'opened', delivery_key, NULL)) AS opened,
    COUNT(DISTINCT IF(metric = 'clicked', delivery_key, NULL)) AS clicked,
    COUNT(DISTINCT IF(metric = 'converted', delivery_key, NULL)) AS converted,
    COUNT(DISTINCT IF(metric = 'bounced', delivery_key, NULL)) AS bounced,
    COUNT(DISTINCT IF(metric = 'spammed', delivery_key, NULL)) AS spammed,
    COUNT(DISTINCT IF(metric = 'unsubscribed', delivery_key, NULL)) AS unsubscribed,
    COUNT(DISTINCT IF(metric IN ('failed', 'dropped', 'undeliverable'), delivery_key, NULL)) AS failed
  FROM events
  WHERE message_id IS NOT NULL
  GROUP BY message_type, message_id, channel
)
SELECT
  *,
  SAFE_DIVIDE(delivered, sent) AS delivery_rate,
  SAFE_DIVIDE(opened, delivered) AS open_rate,
  SAFE_DIVIDE(clicked, delivered) AS click_rate,
  SAFE_DIVIDE(bounced, sent) AS bounce_rate,
  SAFE_DIVIDE(spammed, delivered) AS spam_rate,
  SAFE_DIVIDE(unsubscribed, delivered) AS unsubscribe_rate
FROM counts
