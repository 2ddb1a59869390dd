-- One row per event_id: streaming de-duplication on the insert id is best effort, and
-- Customer.io retries, so analysts read this view, not the table.
SELECT * EXCEPT (row_number)
FROM (
  SELECT
    *,
    ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY received_at) AS row_number
  FROM `${project}.${dataset}.${table}`
)
WHERE row_number = 1
