"""One TLS context for every HTTP client of the process.

Building an ``ssl.SSLContext`` (loading the CA bundle) costs tens of milliseconds of CPU;
a client per agency call would otherwise pay it each time.
"""

from __future__ import annotations

import functools
import ssl

import certifi


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())
