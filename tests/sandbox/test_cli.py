"""The command line's options reach the sandbox it builds."""

from __future__ import annotations

from customerio_sandbox.__main__ import build


def test_defaults_have_customerio_rate_limits_and_no_webhooks() -> None:
    box = build(["--port", "0"])
    try:
        assert box.limiter.limits.enabled and box.limiter.limits.track_per_s == 100
        assert box.webhooks.config is None
    finally:
        box.stop()


def test_options() -> None:
    box = build(["--port", "0", "--no-rate-limits", "--track-rate", "1000", "--broadcast-interval", "1",
                 "--webhook-url", "http://127.0.0.1:9/hooks", "--webhook-signing-key", "k"])  # fmt: skip
    try:
        limits = box.limiter.limits
        assert (limits.enabled, limits.track_per_s, limits.broadcast_interval_s) == (False, 1000, 1)
        assert box.webhooks.config is not None and box.webhooks.config.signing_key == "k"
    finally:
        box.stop()
