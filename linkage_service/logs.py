"""Structured logs: one JSON object per line on stderr, always. :func:`log_event` keeps only
:data:`SAFE_FIELDS`; an exception travels as its class and frames, never its message (drivers
put input values there). ``vinculo serve`` routes every library's records through the same
formatter. docs/operations.md.

"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

__all__ = [
    "SAFE_FIELDS",
    "JsonFormatter",
    "configure_logging",
    "log_event",
    "logger",
    "traceback_frames",
]

logger = logging.getLogger("vinculo.service")

SAFE_FIELDS = frozenset(
    {
        "method", "route", "status", "duration_ms", "actor", "role", "source", "upload_id",
        "record_count", "new_count", "updated_count", "withdrawn", "error", "reason_class",
        "url", "revision", "database", "key_id", "count", "job_id",
    }
)
_HANDLER_MARK = "_vinculo"


def traceback_frames(
    exc_type: type[BaseException] | None, exc: BaseException | None,
    tb: TracebackType | None,
) -> list[str]:
    """The frames of an exception and of its causes, without any exception message.

    >>> try:
    ...     int("a value a client sent")
    ... except ValueError as exc:
    ...     frames = traceback_frames(type(exc), exc, exc.__traceback__)
    >>> frames[-1], any("client sent" in f for f in frames)
    ('ValueError', False)
    """
    out: list[str] = []
    te = traceback.TracebackException(exc_type or BaseException, exc or BaseException(), tb,
                                      capture_locals=False)
    chain: list[traceback.TracebackException] = []
    current: traceback.TracebackException | None = te
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__)
    for item in reversed(chain):
        for frame in item.stack:
            out.append(f"{frame.filename}:{frame.lineno} in {frame.name}")
        name = getattr(item, "exc_type_str", None) or getattr(item.exc_type, "__name__", None)
        out.append(str(name or "Exception"))
    return out


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: time, level, event and its safe fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        if not record.name.startswith("vinculo"):
            payload["logger"] = record.name
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc, tb = record.exc_info
            payload.setdefault("error", exc_type.__name__)
            payload["traceback"] = traceback_frames(exc_type, exc, tb)
        return json.dumps(payload, ensure_ascii=False, default=str)


def _json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    setattr(handler, _HANDLER_MARK, True)
    return handler


def _ensure_handler(target: logging.Logger) -> None:
    if not any(getattr(h, _HANDLER_MARK, False) for h in target.handlers):
        target.addHandler(_json_handler())


def configure_logging(level: str = "INFO", *, everything: bool = False) -> None:
    """Send ``vinculo.*`` logs to stderr as JSON lines (idempotent).

    With ``everything`` (the server process), also every other logger: uvicorn's (its
    handlers replaced), the root logger (libraries) and Python warnings.
    """
    root = logging.getLogger("vinculo")
    root.setLevel(level)
    _ensure_handler(root)
    root.propagate = False
    if not everything:
        return
    top = logging.getLogger()
    for handler in list(top.handlers):
        if not getattr(handler, _HANDLER_MARK, False):
            top.removeHandler(handler)
    _ensure_handler(top)
    if top.level == logging.NOTSET or top.level < logging.WARNING:
        top.setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    logging.captureWarnings(True)


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with only the fields listed in SAFE_FIELDS.

    >>> log_event("upload.stored", upload_id=3, record_count=10, body=b"dropped")
    """
    safe = {k: v for k, v in fields.items() if k in SAFE_FIELDS}
    logger.log(level, event, extra={"fields": safe})
