"""Agency endpoints: simulator defaults that follow its port, and field-by-field overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lienthong.models.contract.signing import webhook_secret
from lienthong.models.status import Agency
from lienthong.settings import Settings


def test_defaults_point_every_agency_at_the_simulator() -> None:
    settings = Settings()
    assert settings.justice.base_url == "http://127.0.0.1:8765/justice"
    assert settings.commune.webhook_url == "http://127.0.0.1:8765/webhooks/commune"


def test_simulator_port_moves_every_default_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_SIMULATOR_PORT", "9911")
    settings = Settings()
    for agency in Agency:
        assert ":9911/" in settings.endpoint(agency).base_url


def test_one_variable_overrides_one_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_POLICE__BASE_URL", "https://police.example.vn/api")
    monkeypatch.setenv("LIENTHONG_POLICE__API_KEY", "real-key")
    settings = Settings()
    assert settings.police.base_url == "https://police.example.vn/api"
    assert settings.police.api_key.get_secret_value() == "real-key"
    assert settings.police.webhook_url == "http://127.0.0.1:8765/webhooks/police"
    assert settings.justice.base_url == "http://127.0.0.1:8765/justice"


def test_webhook_secrets_are_whsec_and_rotate_newest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new, old = webhook_secret(b"police-key-2026-12-01"), webhook_secret(b"police-key-2026-01-01")
    monkeypatch.setenv("LIENTHONG_POLICE__WEBHOOK_SECRET", new)
    monkeypatch.setenv("LIENTHONG_POLICE__PREVIOUS_WEBHOOK_SECRETS", f'["{old}"]')

    assert Settings().police.webhook_secrets() == [new, old]

    monkeypatch.setenv("LIENTHONG_POLICE__WEBHOOK_SECRET", "plain-text-secret")
    with pytest.raises(ValidationError, match="whsec_"):
        Settings()
