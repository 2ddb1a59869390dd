"""`customerio-gcp dlq --kind webhook-bigquery|webhook-routing` reads subscriptions whose names the
runtime derives from pipeline.json (`pipeline.load`) and Terraform derives on its own. Terraform's
offline test pins its names as literals (terraform/tests/pipeline.tftest.hcl); here the runtime's
are checked against those same literals, so either side drifting fails."""

from __future__ import annotations

import re
from pathlib import Path

from customerio_gcp.pipeline import load

TFTEST = Path(__file__).resolve().parents[2] / "terraform" / "tests" / "pipeline.tftest.hcl"


def test_the_webhook_dead_letter_names_are_terraforms() -> None:
    pinned = set(re.findall(r'== "(?:projects/[a-z0-9-]+/topics/)?([a-z0-9-]+)"', TFTEST.read_text()))
    webhook = load().webhook
    names = {
        webhook.bigquery_dead_letter_topic,
        webhook.bigquery_dead_letter_subscription,
        webhook.routing_dead_letter_topic,
        webhook.routing_dead_letter_subscription,
    }
    assert names <= pinned, sorted(names - pinned)
