from __future__ import annotations

import pytest

from customerio_gcp.customerio import Region
from customerio_gcp.pipeline import load
from customerio_gcp.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.region is Region.US
    assert settings.idempotency_backend == "firestore"
    assert settings.secret_values == {} and settings.secret_ids == {}


def test_environment_is_read_in_one_place() -> None:
    settings = Settings.from_env(
        {"CIO_REGION": "EU", "CIO_TRACK_API_KEY": "k", "CIO_APP_API_KEY_SECRET": "app-key", "HTTP_TIMEOUT_S": "4.5"}
    )
    assert settings.region is Region.EU
    assert settings.secret_values == {"track_api_key": "k"}
    assert settings.secret_ids == {"app_api_key": "app-key"}
    assert settings.http_timeout_s == 4.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CIO_REGION": "asia"}, "CIO_REGION"),
        ({"HTTP_TIMEOUT_S": "fast"}, "HTTP_TIMEOUT_S"),
        ({"IDEMPOTENCY_BACKEND": "redis"}, "IDEMPOTENCY_BACKEND"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_pipeline_names_and_local_overrides() -> None:
    config = load()
    identify = config.topics["identify"]
    assert identify.topic == "customerio-identify"
    assert identify.dead_letter_topic == "customerio-identify-dead-letter"
    assert identify.push_subscription == "customerio-identify-push"
    local = config.for_local_run()
    assert config.delivery.max_delivery_attempts == 100  # Pub/Sub's maximum: ~16 h before a dead letter
    assert 5 <= local.delivery.max_delivery_attempts < config.delivery.max_delivery_attempts
    assert local.delivery.ack_deadline_s == config.delivery.ack_deadline_s
    assert local.delivery.minimum_backoff_s < config.delivery.minimum_backoff_s
