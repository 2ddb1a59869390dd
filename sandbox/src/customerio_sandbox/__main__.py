"""`customerio-sandbox`: run the local Customer.io until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import sys

from customerio_sandbox.api import Credentials
from customerio_sandbox.server import Sandbox


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="customerio-sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--region", choices=("us", "eu"), default="us")
    parser.add_argument("--site-id", default=Credentials.site_id)
    parser.add_argument("--track-api-key", default=Credentials.track_api_key)
    parser.add_argument("--app-api-key", default=Credentials.app_api_key)
    args = parser.parse_args(argv)
    credentials = Credentials(args.site_id, args.track_api_key, args.app_api_key)
    sandbox = Sandbox(args.host, args.port, credentials=credentials, region=args.region)
    print(f"customerio-sandbox listening on {sandbox.url} (region {args.region})", flush=True)
    print(f"  CIO_TRACK_URL={sandbox.url} CIO_APP_URL={sandbox.url}", flush=True)
    print(f"  CIO_SITE_ID={credentials.site_id} CIO_TRACK_API_KEY={credentials.track_api_key}", flush=True)
    print(f"  CIO_APP_API_KEY={credentials.app_api_key}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        sandbox.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
