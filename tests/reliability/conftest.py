from __future__ import annotations

from collections.abc import Iterator

import pytest
from customerio_gcp_local.stack import LocalStack

from tests.conftest import local_stack


@pytest.fixture(scope="package")
def stack(pubsub_emulator: str, firestore_emulator: str) -> Iterator[LocalStack]:
    """The pipeline under load: Customer.io's slow answers (1.5 s) outlast a 1 s client timeout."""
    local = local_stack(
        "soak-",
        pubsub_emulator,
        firestore_emulator,
        with_webhook=False,
        function_env={"HTTP_TIMEOUT_S": "1", "HTTP_CONNECT_TIMEOUT_S": "1"},
    )
    with local:
        yield local
