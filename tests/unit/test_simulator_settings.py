"""The simulator's settings (the documented LIENTHONG_SIMULATOR_* variables), credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from lienthong.models.contract.http import development_webhook_secret
from lienthong.models.status import Agency
from lienthong.settings import Settings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import SimulatorSettings
from lienthong.simulator_config import simulator_credentials


def test_defaults_listen_where_the_agencies_default_endpoints_point() -> None:
    simulator = SimulatorSettings()
    assert (simulator.host, simulator.port) == ("127.0.0.1", 8765)
    assert Settings().justice.base_url == f"http://{simulator.host}:{simulator.port}/justice"
    assert simulator.faults.agencies.error_503_rate == 0


def test_fault_variables_reach_the_simulator_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIENTHONG_SIMULATOR_PORT", "9911")
    monkeypatch.setenv("LIENTHONG_SIMULATOR_FAULTS__AGENCIES__ERROR_503_RATE", "0.1")
    monkeypatch.setenv("LIENTHONG_SIMULATOR_FAULTS__WEBHOOKS__LATENCY_MS", "25")
    monkeypatch.setenv("LIENTHONG_SIMULATOR_FAULTS__SEED", "6")

    simulator = SimulatorSettings()
    settings = Settings()

    assert simulator.port == 9911
    assert simulator.faults.agencies.error_503_rate == 0.1
    assert simulator.faults.webhooks.latency_ms == 25
    assert simulator.faults.seed == 6
    assert settings.simulator_port == 9911
    assert not hasattr(settings, "simulator_faults")


def test_the_simulator_gets_the_credentials_our_settings_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LIENTHONG_POLICE__API_KEY", "real-police-key")
    credentials = simulator_credentials(Settings())

    assert set(credentials) == set(Agency)
    assert credentials[Agency.POLICE].api_key == "real-police-key"
    secret = credentials[Agency.COMMUNE].webhook_secret
    assert secret == development_webhook_secret(Agency.COMMUNE)
    assert "real-police-key" not in repr(credentials)
    del credentials[Agency.COMMUNE]
    with pytest.raises(ValueError, match="commune"):
        SimulatorServer(credentials, tmp_path)
