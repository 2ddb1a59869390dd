"""What the `customerio-gcp` command does: dead-letter inspection and replay, bulk user sync,
pipeline status. Plain functions over the Google clients, so tests drive them directly and the
CLI (`customerio_gcp_ops.cli`) stays a thin layer of options and printing."""
