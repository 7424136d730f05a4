"""Our HTTP API (``lienthong api``): the way in for agencies' decisions, and later more.

:func:`create_app` builds the ASGI application over a container; ``lienthong api`` serves
it with uvicorn. Routes live in one module per concern (``decisions.py``).
"""

from lienthong.api.app import create_app

__all__ = ["create_app"]
