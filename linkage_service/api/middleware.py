"""Access log as JSON lines: method, route template, status, duration, caller. No bodies,
no query strings, no raw paths."""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from linkage_service.api.errors import route_template
from linkage_service.auth import Actor
from linkage_service.logs import log_event

__all__ = ["AccessLogMiddleware"]


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = route_template(scope)
            actor: Any = scope.get("state", {}).get("actor")
            log_event(
                "http.request",
                method=scope.get("method"),
                route=path if isinstance(path, str) else "unmatched",
                status=status["code"],
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                actor=actor.label if isinstance(actor, Actor) else None,
            )
