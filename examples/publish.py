"""Application code hands work to the pipeline: validate and publish to the topics.

    PUBSUB_EMULATOR_HOST=127.0.0.1:8085 GOOGLE_CLOUD_PROJECT=my-project .venv/bin/python examples/publish.py

(`make run ARGS=--keep-running` prints the variables for the local pipeline.) Against Google Cloud,
leave PUBSUB_EMULATOR_HOST unset; the topics are the ones Terraform created.
"""

import os

from customerio_gcp.customerio import Identifiers
from customerio_gcp.messages import IdentifyPerson, InvalidMessageError, SendEmail, TrackEvent
from customerio_gcp.publishing import Publisher

publisher = Publisher(os.environ["GOOGLE_CLOUD_PROJECT"])
ada = Identifiers(id="user-1001")

publisher.publish(IdentifyPerson(identifiers=ada, attributes={"plan": "pro"}, timestamp=1_767_225_600))
publisher.publish(TrackEvent(identifiers=ada, name="upgraded", data={"to": "pro"}, timestamp=1_767_225_700))
publisher.publish(
    SendEmail(
        transactional_message_id="receipt",
        to="ada@example.com",
        identifiers=ada,
        message_data={"amount": "42.00"},
        idempotency_key="receipt-inv-0042",  # a redelivery or a second publish never sends twice
    )
)
try:
    publisher.publish({"op": "identify", "identifiers": {"id": "u", "email": "u@example.com"}})
except InvalidMessageError as error:  # refused before publishing; the reason names no values
    print(f"refused: {error}")
print("published 3 messages")
