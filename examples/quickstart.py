"""The service layer in a dozen lines, against the local Customer.io sandbox.

    .venv/bin/python examples/quickstart.py

Swap the sandbox for your workspace by dropping `base_url` and passing your real keys (or, in a
function, let `customerio_gcp.wiring.clients.build_service(Settings.from_env())` do it from Secret Manager).
"""

from customerio_sandbox import Sandbox, SandboxControl

from customerio_gcp.customerio import AppClient, Identifiers, TrackClient
from customerio_gcp.customerio.app import EmailRequest
from customerio_gcp.service import MessagingService

with Sandbox() as sandbox:  # a local Customer.io on a free port
    creds = sandbox.credentials
    track = TrackClient.with_credentials(creds.site_id, creds.track_api_key, base_url=sandbox.url)
    app = AppClient.with_key(creds.app_api_key, base_url=sandbox.url)
    service = MessagingService(track, app)

    ada = Identifiers(id="user-1001")
    service.identify_user(ada, {"email": "ada@example.com", "plan": "pro"}, timestamp=1_767_225_600)
    event_id = service.track_event(ada, "signed_up", {"source": "ads"}, timestamp=1_767_225_600)
    email = EmailRequest(transactional_message_id=1, to="ada@example.com", identifiers=ada)
    first = service.send_transactional(email, idempotency_key="welcome-user-1001")
    again = service.send_transactional(email, idempotency_key="welcome-user-1001")  # not sent twice

    summary = SandboxControl(sandbox.url).summary()
    print(f"event id {event_id}; delivery {first.delivery_id} (repeat gave {again.delivery_id})")
    print(f"sandbox: {summary['people']} person, {summary['events']} event, {summary['deliveries']} email")
