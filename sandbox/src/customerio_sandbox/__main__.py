"""`customerio-sandbox`: run the local Customer.io until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import sys

from customerio_sandbox.api import Credentials
from customerio_sandbox.ratelimits import RateLimits
from customerio_sandbox.server import Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="customerio-sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--region", choices=("us", "eu"), default="us")
    parser.add_argument("--site-id", default=Credentials.site_id)
    parser.add_argument("--track-api-key", default=Credentials.track_api_key)
    parser.add_argument("--app-api-key", default=Credentials.app_api_key)
    limits = parser.add_argument_group("rate limits (Customer.io's by default)")
    limits.add_argument("--no-rate-limits", action="store_true", help="accept any request rate")
    limits.add_argument("--track-rate", type=float, default=RateLimits.track_per_s, help="Track v1+v2 req/s")
    limits.add_argument("--transactional-rate", type=float, default=RateLimits.transactional_per_s, help="sends/s")
    limits.add_argument("--app-rate", type=float, default=RateLimits.app_per_s, help="other App API req/s")
    limits.add_argument(
        "--broadcast-interval", type=float, default=RateLimits.broadcast_interval_s, help="s between triggers"
    )
    limits.add_argument("--burst-seconds", type=float, default=RateLimits.burst_s, help="bucket size in s of rate")
    hooks = parser.add_argument_group("reporting webhooks (off unless a URL is given)")
    hooks.add_argument("--webhook-url", help="POST Customer.io's reporting webhooks here")
    hooks.add_argument("--webhook-signing-key", default="sandbox-webhook-key")
    return parser


def build(argv: list[str] | None = None) -> Sandbox:
    """The sandbox the command line asks for (bound to its port, not serving yet)."""
    args = _parser().parse_args(argv)
    credentials = Credentials(args.site_id, args.track_api_key, args.app_api_key)
    rate_limits = RateLimits(
        enabled=not args.no_rate_limits,
        track_per_s=args.track_rate,
        transactional_per_s=args.transactional_rate,
        app_per_s=args.app_rate,
        broadcast_interval_s=args.broadcast_interval,
        burst_s=args.burst_seconds,
    )
    webhooks = {"url": args.webhook_url, "signing_key": args.webhook_signing_key} if args.webhook_url else None
    return Sandbox(
        args.host, args.port, credentials=credentials, region=args.region, rate_limits=rate_limits, webhooks=webhooks
    )


def main(argv: list[str] | None = None) -> int:
    sandbox = build(argv)
    credentials, limits, hooks = sandbox.credentials, sandbox.limiter.limits, sandbox.webhooks.config
    print(f"customerio-sandbox listening on {sandbox.url} (region {sandbox.api.region})", flush=True)
    print(f"  CIO_TRACK_URL={sandbox.url} CIO_APP_URL={sandbox.url}", flush=True)
    print(f"  CIO_SITE_ID={credentials.site_id} CIO_TRACK_API_KEY={credentials.track_api_key}", flush=True)
    print(f"  CIO_APP_API_KEY={credentials.app_api_key}", flush=True)
    print(f"  rate limits {'on ' + str(limits.to_dict()) if limits.enabled else 'off'}", flush=True)
    print(f"  reporting webhooks {'to ' + hooks.url if hooks else 'off'}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sandbox.serve_forever()
    sandbox.webhooks.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
