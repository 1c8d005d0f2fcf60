"""Access log as JSON lines: method, route template, status, duration, caller. No bodies,
no query strings, no raw paths.

It is also the last net: an exception no handler turned into an answer (a bug) becomes a 500
with the API's one error shape, ``{"detail": …}``, and ONE log line ``http.error`` with the
exception's class and its traceback frames (never its message, which may hold input).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linkage_service.api.errors import route_template
from linkage_service.auth import Actor
from linkage_service.logs import log_event, logger

__all__ = ["INTERNAL_ERROR", "AccessLogMiddleware"]

INTERNAL_ERROR = ("error interno del servicio; no se guardó nada y quedó registrado "
                  "(internal error, nothing was stored, it was logged)")


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
                status["started"] = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            path = route_template(scope)
            logger.error("http.error", exc_info=sys.exc_info(), extra={"fields": {
                "method": scope.get("method"),
                "route": path if isinstance(path, str) else "unmatched",
            }})
            if not status["started"]:
                body = json.dumps({"detail": INTERNAL_ERROR}).encode()
                await send_wrapper({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ]})
                await send({"type": "http.response.body", "body": body})
        finally:
            path = route_template(scope)
            actor: Any = scope.get("state", {}).get("actor")
            log_event(
                "http.request",
                level=logging.INFO if status["code"] < 500 else logging.ERROR,
                method=scope.get("method"),
                route=path if isinstance(path, str) else "unmatched",
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                actor=actor.label if isinstance(actor, Actor) else None,
            )
