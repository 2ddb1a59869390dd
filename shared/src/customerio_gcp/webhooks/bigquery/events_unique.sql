-- One row per event_id: Pub/Sub delivers at least once and Customer.io retries, so analysts read
-- this view, not the table. Duplicates of an event carry the same event_timestamp (Customer.io's
-- time of the event), so partitioning the window by (event_timestamp, event_id) de-duplicates
-- exactly as by event_id alone, and lets BigQuery push a filter on event_timestamp below the
-- window: a query for a day range reads only those days' partitions.
SELECT * EXCEPT (row_number)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY event_timestamp, event_id ORDER BY received_at) AS row_number
  FROM `${project}.${dataset}.${table}`
)
WHERE row_number = 1
