"""``lienthong simulator``: serve the four simulated agency systems until interrupted."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

from lienthong.models.contract.http import DEFAULT_SIMULATOR_HOST, DEFAULT_SIMULATOR_PORT
from lienthong.settings import Settings
from lienthong.simulator.settings import SimulatorSettings


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "simulator",
        help="run the agency simulator (justice, police, social insurance, social affairs)",
        description=(
            "Serve the simulated agency systems, their webhook receivers and /admin on one "
            "port. Faults come from LIENTHONG_SIMULATOR_FAULTS__* settings or PUT /admin/faults."
        ),
    )
    parser.add_argument(
        "--host",
        help=f"bind address (default: LIENTHONG_SIMULATOR_HOST or {DEFAULT_SIMULATOR_HOST})",
    )
    parser.add_argument(
        "--port",
        type=int,
        help=(
            "port, 0 for any free one "
            f"(default: LIENTHONG_SIMULATOR_PORT or {DEFAULT_SIMULATOR_PORT})"
        ),
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="where the simulator keeps its SQLite file (default: $LIENTHONG_DATA_DIR/simulator)",
    )
    parser.add_argument("--seed", type=int, help="seed for fault injection")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The simulator (FastAPI, uvicorn) is loaded only by the command that serves it.
    from lienthong.simulator.server import SimulatorServer
    from lienthong.simulator_config import callback_root, simulator_credentials

    settings = Settings()
    simulator = SimulatorSettings()
    faults = simulator.faults
    if args.seed is not None:
        faults = faults.model_copy(update={"seed": args.seed})
    decisions = simulator.decisions
    if not decisions.callback_url:
        decisions = decisions.model_copy(update={"callback_url": callback_root(settings)})
    server = SimulatorServer(
        simulator_credentials(settings),
        args.data_dir or settings.data_dir / "simulator",
        faults,
        decisions=decisions,
        host=args.host or simulator.host,
        port=simulator.port if args.port is None else args.port,
        log_level=args.log_level,
    )
    server.start()
    print(f"agency simulator at {server.base_url} (OpenAPI: {server.base_url}/docs)", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
