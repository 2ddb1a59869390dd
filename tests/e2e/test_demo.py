"""`make run`'s demo on the packaged functions, as deployed (identify and track coalesce): what its
summary claims holds — every operation accepted once, the duplicate send stopped, the person whose
Track requests met three 503s retried and then delivered, the refusals dead-lettered; then the
reporting loop it prints, whose funnel in BigQuery is exactly what the sandbox reported on the
demo's sends."""

from __future__ import annotations

import io
from collections import Counter

from customerio_gcp_local.pipeline import run_demo, run_webhook_demo

from tests.e2e.conftest import Pipeline


def test_the_demo_summary_counts_coalesced_operations(pipeline: Pipeline) -> None:
    out = io.StringIO()
    summary = run_demo(pipeline.stack, out)
    printed = out.getvalue()
    assert "did not settle" not in printed

    accepted = summary["accepted"]  # counted per batch item
    expected = {"identify": 3, "delete": 1, "event": 3, "send_email": 13}
    assert accepted - Counter(suppress=accepted["suppress"]) == Counter(expected)  # each applied once
    # The suppressions: user-1004's opt-out, and user-1005's deletion, which suppresses and then
    # deletes, one operation after the other. If the batch carrying the delete also carried
    # user-1003's (refused whole with 503) on both of a delivery's client attempts, the message is
    # redelivered and its suppress, already accepted, goes again: harmless (suppressing is
    # idempotent) and the only repeat allowed. A refusal the client's second attempt gets past
    # repeats nothing, so a refused delete allows a repeat without requiring one.
    refused = [r for r in pipeline.control.requests(identifier="user-1005") if r["status"] >= 500]
    assert all("user-1003" in r["people"] for r in refused)
    deletes_refused = [r for r in refused if any(op["action"] == "delete" for op in r["body"]["batch"]
                                                 if "user-1005" in op["identifiers"].values())]  # fmt: skip
    if deletes_refused:
        assert 2 <= accepted["suppress"] <= 2 + len(deletes_refused)
    else:
        assert accepted["suppress"] == 2
    assert (summary["welcome_published"], summary["welcome_sent"]) == (2, 1)
    assert not summary["ignored"]
    requests = summary["requests"]
    assert requests["track_v1"] == 1  # the merge: no v2 form
    assert requests["batches"] >= 1 and requests["track"] == requests["batches"] + 1
    # user-1003's Track requests were refused three times (503, whole), then went through
    retried = summary["retried"]
    assert sum(retried.values()) == 3 and all(label.startswith("v2 batch [") for label in retried)
    assert "(HTTP 503)" in printed and "v2_batch" not in printed
    assert pipeline.control.person("user-1003") is not None
    assert any(e["customer"] == "user-1003" and e["name"] == "trial_started" for e in pipeline.control.events())
    assert summary["refused"] == Counter({"merge (HTTP 400)": 1})
    letters = summary["dead_letters"]
    assert sorted(letter["error_class"] for letter in letters["identify"]) == ["BadRequestError", "InvalidMessageError"]
    assert [letter["error_class"] for letter in letters["track"]] == ["InvalidMessageError"]

    # The loop `make run` prints next: the sandbox reports on those sends (signed webhooks),
    # webhook-ingest keeps them, the BigQuery subscription writes them. Nothing else reported to
    # this stack, so BigQuery holds exactly what the sandbox sent, each event once.
    out = io.StringIO()
    loop = run_webhook_demo(pipeline.stack, out)
    reported = [e for e in pipeline.control.webhooks()["events"] if e["state"] == "sent"]
    assert loop["reported"] == len(reported) > 0 and loop["unique_rows"] == len(reported)
    by_metric = Counter(e["metric"] for e in reported)
    for metric in ("sent", "delivered", "opened", "clicked", "bounced"):
        assert sum(row[metric] for row in loop["funnel"]) == by_metric[metric], metric
    assert by_metric["sent"] == expected["send_email"]  # one report per accepted send
    assert loop["forged"] == 401 and loop["quarantined"] == {"accepted": 0, "quarantined": 1}
    printed = out.getvalue()
    assert f"reported {len(reported)} events" in printed and printed.count("  funnel ") == len(loop["funnel"])
