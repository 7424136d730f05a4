"""Our API in a background thread: for ``lienthong demo`` and the tests.

The thread runs uvicorn with ``container`` installed (``use_container``) and the caller's
context (Prefect's settings), so the chains it continues use the same database and server.
Port 0 picks a free port; :attr:`ApiServer.url` is where it answers.
"""

from __future__ import annotations

import contextvars
import socket
import threading
import time
from types import TracebackType

import uvicorn

from lienthong.api.app import create_app
from lienthong.bootstrap import use_container
from lienthong.services.container import Container

STARTUP_TIMEOUT_SECONDS = 10.0


class ApiServer:
    def __init__(self, container: Container, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        self.url = f"http://{host}:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(
            create_app(container), log_level="warning", timeout_graceful_shutdown=5
        )
        self._server = uvicorn.Server(config)
        context = contextvars.copy_context()

        def serve() -> None:
            with use_container(container):
                self._server.run(sockets=[self._sock])

        self._thread = threading.Thread(
            target=context.run, args=(serve,), name="lienthong-api", daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join()
        self._sock.close()

    def __enter__(self) -> ApiServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
