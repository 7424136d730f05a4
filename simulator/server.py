"""Run the simulator in a background thread: for tests, ``lienthong demo`` and the CLI.

::

    with SimulatorServer(simulator_credentials(settings), tmp_path, port=0) as sim:
        clients = build_agency_clients(client_settings(settings, sim))

The simulator knows nothing of the application's settings: ``simulator_credentials`` and
``client_settings`` are the entry points' helpers in ``lienthong.simulator_config``.
Port 0 picks a free port; :attr:`SimulatorServer.port` is the bound one, kept across
``stop()`` / ``start()`` so a restarted simulator answers at the same address.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import uvicorn

from lienthong.models.contract.http import (
    DEFAULT_SIMULATOR_HOST,
    DEFAULT_SIMULATOR_PORT,
    EndpointUrls,
    simulator_urls,
)
from lienthong.models.status import Agency
from lienthong.simulator.app import build_app
from lienthong.simulator.deferred import DeferredDecisions
from lienthong.simulator.faults import FaultController
from lienthong.simulator.settings import (
    AgencyCredentials,
    SimulatorDecisionSettings,
    SimulatorFaultSettings,
)
from lienthong.simulator.store import SimulatorStore

STARTUP_TIMEOUT_SECONDS = 10.0


class _HideDeliberateDrops(logging.Filter):
    """Dropped connections are injected on purpose; uvicorn would log each as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


_HIDE_DELIBERATE_DROPS = _HideDeliberateDrops()


class SimulatorServer:
    """The simulator on ``host:port``, keeping its state in ``data_dir``.

    ``credentials`` must name every :class:`Agency`; ``faults`` default to none.
    """

    def __init__(
        self,
        credentials: Mapping[Agency, AgencyCredentials],
        data_dir: Path,
        faults: SimulatorFaultSettings | None = None,
        *,
        decisions: SimulatorDecisionSettings | None = None,
        host: str = DEFAULT_SIMULATOR_HOST,
        port: int = DEFAULT_SIMULATOR_PORT,
        log_level: str = "warning",
    ) -> None:
        missing = [agency.value for agency in Agency if agency not in credentials]
        if missing:
            raise ValueError(f"no simulator credentials for {', '.join(missing)}")
        self._credentials = dict(credentials)
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._store: SimulatorStore | None = None
        self.faults = FaultController(faults or SimulatorFaultSettings())
        self.decisions = decisions or SimulatorDecisionSettings()
        self._deferred: DeferredDecisions | None = None

    def set_callback_url(self, url: str) -> None:
        """Where the agencies post their decisions from now on (our API's root)."""
        self.set_decisions(self.decisions.model_copy(update={"callback_url": url}))

    def set_decisions(self, decisions: SimulatorDecisionSettings) -> None:
        """Replace which agencies decide later, and how (as ``PUT /admin/decisions``).

        The callback URL set before is kept when ``decisions`` names none.
        """
        if not decisions.callback_url:
            decisions = decisions.model_copy(update={"callback_url": self.decisions.callback_url})
        self.decisions = decisions
        if self._deferred is not None:
            self._deferred.replace(decisions)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start serving and return once the socket accepts connections."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._store = SimulatorStore(self.data_dir / "simulator.db")
        self.faults = FaultController(self.faults.settings)
        self._deferred = DeferredDecisions(self._store, self._credentials, self.decisions)
        app = build_app(self._credentials, self._store, self.faults, self._deferred)
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
        self._deferred.start()

    def stop(self) -> None:
        """Stop serving (in-flight requests get a second) and close the database."""
        if self._deferred is not None:
            self.decisions = self._deferred.settings
            self._deferred.stop()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join()
        if self._store is not None:
            self._store.close()
        self._server = self._thread = self._store = self._deferred = None

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        return sock

    def endpoint_urls(self, agency: Agency) -> EndpointUrls:
        """Where this server answers as ``agency``, and where it receives its notifications."""
        return simulator_urls(self.base_url, agency)

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
