"""`make cost` prices the log lines as Cloud Logging would bill them once Terraform's exclusion
keeps only a sample of the success lines (bench/cost.py `billable_log_bytes`)."""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import pytest

from bench import cost

REPO = Path(__file__).resolve().parents[2]


def test_the_sampling_priced_is_the_one_terraform_deploys() -> None:
    options = hcl2.SerializationOptions(strip_string_quotes=True)
    with (REPO / "terraform/variables.tf").open() as variables:
        parsed = hcl2.load(variables, serialization_options=options)
    [declared] = [v["success_log_sampling"] for v in parsed["variable"] if "success_log_sampling" in v]
    assert declared["default"] == cost.SUCCESS_LOG_SAMPLING


def test_success_lines_are_priced_at_the_share_kept_and_everything_else_whole(tmp_path: Path) -> None:
    lines = [
        {"severity": "INFO", "metric": "operation", "outcome": "success"},  # sampled
        {"severity": "INFO", "metric": "operation", "outcome": "skipped"},  # sampled (unchanged identify)
        {"severity": "INFO", "metric": "delivery", "outcome": "delivered"},  # sampled
        {"severity": "INFO", "metric": "webhook", "outcome": "accepted"},  # sampled
        {"severity": "WARNING", "metric": "operation", "outcome": "success"},  # not INFO: kept
        {"severity": "INFO", "metric": "delivery", "outcome": "skipped_deleted"},  # kept
        {"severity": "INFO", "message": "no metric"},  # kept
    ]
    raw = [json.dumps(line).encode() + b"\n" for line in lines] + [b"[2026-11-29] gunicorn booting\n"]
    log = tmp_path / "function.log"
    log.write_bytes(b"written before the run\n" + b"".join(raw))
    start = len(b"written before the run\n")
    overhead = cost.LOG_ENTRY_OVERHEAD_BYTES
    whole = sum(len(r) + overhead for r in raw)
    sampled = sum((len(r) + overhead) * (cost.SUCCESS_LOG_SAMPLING if i < 4 else 1.0) for i, r in enumerate(raw))
    assert cost.billable_log_bytes(log, start, sampled=True) == pytest.approx(sampled)
    assert cost.billable_log_bytes(log, start, sampled=False) == pytest.approx(whole)  # transactional


def test_request_log_entries_are_priced_per_request() -> None:
    entry, share = cost.REQUEST_LOG_ENTRY_BYTES, cost.SUCCESS_LOG_SAMPLING
    assert cost.request_log_bytes({200: 10, 503: 2}, sampled=True) == pytest.approx(10 * entry * share + 2 * entry)
    assert cost.request_log_bytes({200: 10, 503: 2}, sampled=False) == pytest.approx(12 * entry)


def test_the_sampled_functions_are_the_ones_terraform_samples() -> None:
    main = (REPO / "terraform/main.tf").read_text()
    assert 'success_log_functions = ["identify", "track", "webhook"]' in main
    assert cost.SAMPLED_LOGS == ("identify", "track", "webhook")
