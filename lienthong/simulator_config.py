"""The application's settings and the agency simulator, side by side: for entry points only.

The simulator imports nothing of the application but the domain and the agency contract.
Whoever starts it next to the application (``lienthong simulator``, ``lienthong demo``, the
tests, the benchmarks) uses these two helpers: one hands the simulator the agencies'
credentials from our settings, the other points our settings at a running simulator.
"""

from __future__ import annotations

from lienthong.models.status import Agency
from lienthong.settings import Settings
from lienthong.simulator.server import SimulatorServer
from lienthong.simulator.settings import AgencyCredentials


def simulator_credentials(settings: Settings) -> dict[Agency, AgencyCredentials]:
    """Every agency's API key and webhook secret, as ``settings`` has them.

    The simulator then accepts the calls and verifies the notifications our clients make
    with the same ``settings``.
    """
    return {
        agency: AgencyCredentials(
            api_key=settings.endpoint(agency).api_key.get_secret_value(),
            webhook_secret=settings.endpoint(agency).webhook_secret.get_secret_value(),
        )
        for agency in Agency
    }


def callback_root(settings: Settings) -> str:
    """Where the simulated agencies post their decisions: our API, as ``settings`` has it."""
    return f"http://{settings.api.host}:{settings.api.port}"


def client_settings(settings: Settings, simulator: SimulatorServer) -> Settings:
    """``settings`` with every agency's base and webhook URL at ``simulator``.

    Keys and secrets stay as they are: start the simulator with
    :func:`simulator_credentials` of the same ``settings``.
    """
    return settings.model_copy(
        update={
            agency.value: settings.endpoint(agency).model_copy(
                update=simulator.endpoint_urls(agency)._asdict()
            )
            for agency in Agency
        }
    )
