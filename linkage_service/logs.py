"""Structured logs: one JSON object per line on stderr.

Log calls pass an event name and a few safe fields (route template, status, counts, token id,
source name, durations). Never pass request bodies, attribute values or exception messages that
may hold input: :func:`log_event` drops any field not in :data:`SAFE_FIELDS`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

__all__ = ["SAFE_FIELDS", "JsonFormatter", "configure_logging", "log_event", "logger"]

logger = logging.getLogger("vinculo.service")

SAFE_FIELDS = frozenset(
    {
        "method", "route", "status", "duration_ms", "actor", "role", "source", "upload_id",
        "record_count", "new_count", "updated_count", "withdrawn", "error", "reason_class",
        "url", "revision", "database", "key_id", "count", "job_id",
    }
)


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line: time, level, event and its safe fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send ``vinculo.*`` logs to stderr as JSON lines (idempotent)."""
    root = logging.getLogger("vinculo")
    root.setLevel(level)
    if not any(getattr(h, "_vinculo", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._vinculo = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.propagate = False


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with only the fields listed in SAFE_FIELDS.

    >>> log_event("upload.stored", upload_id=3, record_count=10, body=b"dropped")
    """
    safe = {k: v for k, v in fields.items() if k in SAFE_FIELDS}
    logger.log(level, event, extra={"fields": safe})
