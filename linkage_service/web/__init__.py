"""The web console: HTML pages for officials, Spanish first (docs/console.md).

Pages live under ``/consola`` and call the same functions as the JSON endpoints; nothing is
only reachable here. ``install_console(app)`` adds the pages, the console's refusal handlers
(Spanish page for a browser, the API's JSON for a script) and its security headers.

>>> from fastapi import FastAPI
>>> from linkage_service.api.deps import api_routes
>>> app = FastAPI()
>>> install_console(app)
>>> "/consola/ingresar" in {path for path, _methods, _route in api_routes(app)}
True
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from linkage_service.web import account, reid_pages, reports, work
from linkage_service.web.access import ConsoleHeadersMiddleware, install_refusal_handlers

__all__ = ["console_router", "install_console"]

console_router = APIRouter()
for _module in (account, work, reid_pages, reports):
    console_router.include_router(_module.router)


def install_console(app: FastAPI) -> None:
    """Add the console's pages, refusal handlers and security headers to ``app``."""
    app.include_router(console_router)
    install_refusal_handlers(app)
    app.add_middleware(ConsoleHeadersMiddleware)
