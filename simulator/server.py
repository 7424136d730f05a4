"""Run the simulator in a background thread: for tests, ``lienthong demo`` and the CLI.

::

    with SimulatorServer(settings, data_dir=tmp_path, port=0) as sim:
        clients = build_agency_clients(sim.client_settings())

Port 0 picks a free port; :attr:`SimulatorServer.port` is the bound one, kept across
``stop()`` / ``start()`` so a restarted simulator answers at the same address.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from lienthong.settings import AgencyEndpoint, Settings, SimulatorFaultSettings
from models.status import Agency
from simulator.app import build_app
from simulator.faults import FaultController
from simulator.protocol import agency_slug
from simulator.store import SimulatorStore

STARTUP_TIMEOUT_SECONDS = 10.0


class _HideDeliberateDrops(logging.Filter):
    """Dropped connections are injected on purpose; uvicorn would log each as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


_HIDE_DELIBERATE_DROPS = _HideDeliberateDrops()


class SimulatorServer:
    def __init__(
        self,
        settings: Settings,
        data_dir: Path | None = None,
        faults: SimulatorFaultSettings | None = None,
        *,
        host: str | None = None,
        port: int | None = None,
        log_level: str = "warning",
    ) -> None:
        self._settings = settings
        self.data_dir = data_dir or settings.data_dir / "simulator"
        self.host = host or settings.simulator_host
        self.port = settings.simulator_port if port is None else port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._store: SimulatorStore | None = None
        self.faults = FaultController(faults or settings.simulator_faults)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start serving and return once the socket accepts connections."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._store = SimulatorStore(self.data_dir / "simulator.db")
        self.faults = FaultController(self.faults.settings)
        app = build_app(self._settings, self._store, self.faults)
        sock = self._bind()
        config = uvicorn.Config(
            app, log_level=self._log_level, timeout_graceful_shutdown=1, lifespan="off"
        )
        logging.getLogger("uvicorn.error").addFilter(_HIDE_DELIBERATE_DROPS)
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="simulator", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start")
            time.sleep(0.01)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving (in-flight requests get a second) and close the database."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join()
        if self._store is not None:
            self._store.close()
        self._server = self._thread = self._store = None

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        return sock

    def client_settings(self) -> Settings:
        """``settings`` with every agency's base and webhook URL pointing at this server."""

        def at_this_server(agency: Agency) -> AgencyEndpoint:
            endpoint = self._settings.endpoint(agency)
            slug = agency_slug(agency)
            return endpoint.model_copy(
                update={
                    "base_url": f"{self.base_url}/{slug}",
                    "webhook_url": f"{self.base_url}/webhooks/{slug}",
                }
            )

        return self._settings.model_copy(
            update={agency.value: at_this_server(agency) for agency in Agency}
        )

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
