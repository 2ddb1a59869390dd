"""A local Customer.io: the Track v1/v2 and App API endpoints, with recording and fault injection.

Start it with `customerio-sandbox` (or `python -m customerio_sandbox`), point the clients'
`base_url` at it, and ask `GET /_sandbox/requests` what arrived. It checks auth, paths, body
shapes and the documented limits, answers with Customer.io's documented bodies, ignores repeated
event ULIDs, and can inject 429s, 5xx and slow answers. A development tool, not a test mock.
"""

from customerio_sandbox.control import SandboxControl
from customerio_sandbox.faults import Faults, ScriptedFault
from customerio_sandbox.ratelimits import RateLimits, TokenBucket
from customerio_sandbox.server import Sandbox, SandboxCredentials
from customerio_sandbox.webhooks import WebhookConfig, WebhookRetry, sign

__all__ = [
    "Faults",
    "RateLimits",
    "Sandbox",
    "SandboxControl",
    "SandboxCredentials",
    "ScriptedFault",
    "TokenBucket",
    "WebhookConfig",
    "WebhookRetry",
    "sign",
]
