"""The one HTTP client of the linkage service: every call the CLI, an institution or an
operator makes goes through ``ServiceClient`` (uploads, jobs, results, re-identification,
audit, statistics).

Takes an ``httpx.Client`` or a transport, so tests run it against the real app in-process and
against a real server alike. Every error comes out as ``ServiceError(reason, status)``: the
service's ``detail`` for an HTTP error, a Spanish sentence for a network failure (status 0).

>>> ServiceClient("http://127.0.0.1:8000", token="vnc_…").url("/jobs/3")
'http://127.0.0.1:8000/api/v1/jobs/3'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from vinculo_common.errors import InputError, ServiceError

__all__ = ["API_PREFIX", "ServiceClient"]

API_PREFIX = "/api/v1"


class ServiceClient:
    """A session with the service under one token (or none, for public calls)."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        client: httpx.Client | None = None,
        timeout: float = 300.0,
    ) -> None:
        if client is not None and transport is not None:
            raise InputError("indique client o transport, no ambos")
        self._own_client = client is None
        self._client = client or httpx.Client(transport=transport, timeout=timeout)
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def url(self, path: str) -> str:
        """Absolute URL of an API path; ``/uploads`` means ``/api/v1/uploads``.

        >>> ServiceClient("http://h:1/").url("/uploads")
        'http://h:1/api/v1/uploads'
        """
        if not path.startswith("/"):
            path = "/" + path
        if not path.startswith(API_PREFIX + "/") and path != API_PREFIX:
            path = API_PREFIX + path
        return self._base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request; return the response or raise ServiceError."""
        headers = {**self._headers, **kwargs.pop("headers", {})}
        try:
            response = self._client.request(method, self.url(path), headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise ServiceError(
                f"el servicio no respondió a tiempo ({self._base_url}) (timeout)", 0
            ) from None
        except httpx.ConnectError:
            raise ServiceError(
                f"no se pudo conectar con el servicio en {self._base_url} (connection failed)", 0
            ) from None
        except httpx.HTTPError as exc:
            raise ServiceError(f"error de comunicación con el servicio: {type(exc).__name__}",
                               0) from None
        if response.status_code >= 400:
            raise ServiceError(_reason(response), response.status_code)
        return response

    def get(self, path: str, *, params: dict[str, Any] | None = None) -> Any:
        """GET an API path and return its JSON."""
        return _json(self.request("GET", path, params=params))

    def post(self, path: str, *, json: Any = None, content: bytes | None = None,
             headers: dict[str, str] | None = None) -> Any:
        """POST JSON (or raw ``content``) to an API path and return the JSON answer."""
        kwargs: dict[str, Any] = {"headers": headers or {}}
        if content is not None:
            kwargs["content"] = content
        else:
            kwargs["json"] = json
        return _json(self.request("POST", path, **kwargs))

    def health(self) -> dict[str, Any]:
        """``{"status": "ok", ...}`` when the service and its database answer."""
        result: dict[str, Any] = self.get("/health")
        return result

    def upload(self, batch_path: Path) -> dict[str, Any]:
        """Upload a batch file (streamed); return the upload with ``created`` (new or repeat)."""
        path = Path(batch_path)
        if not path.is_file():
            raise InputError(f"no existe el lote {path} (batch file not found)")
        with open(path, "rb") as fh:
            response = self.request(
                "POST", "/uploads", content=fh,
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(path.stat().st_size)},
            )
        result: dict[str, Any] = _json(response)
        result["created"] = response.status_code == 201
        return result

    def withdraw(self, record_refs: list[bytes], *, reason: str | None = None) -> dict[str, Any]:
        """Withdraw records of the token's source by reference."""
        result: dict[str, Any] = self.post(
            "/records/withdraw", json={"record_refs": [r.hex() for r in record_refs],
                                       "reason": reason}
        )
        return result

    # ------------------------------------------------------------------ linkage jobs, results

    def start_job(self, *, upper_threshold: float | None = None,
                  lower_threshold: float | None = None) -> dict[str, Any]:
        """Start a linkage job over the whole bank (operator); the service's thresholds unless
        given. The service answers 409 while another job runs."""
        body = {k: v for k, v in (("upper_threshold", upper_threshold),
                                  ("lower_threshold", lower_threshold)) if v is not None}
        result: dict[str, Any] = self.post("/jobs", json=body)
        return result

    def get_job(self, job_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/jobs/{job_id}")
        return result

    def results_page(self, *, offset: int, limit: int) -> dict[str, Any]:
        """One page of the token's source's results (its own records only):
        ``{"results": [...], "next_offset": int | None}``."""
        result: dict[str, Any] = self.get("/results", params={"offset": offset, "limit": limit})
        return result

    # ------------------------------------------------------------------ re-identification

    def create_reid_request(
        self,
        *,
        persons: Sequence[str],
        legal_basis: str,
        purpose: str,
        sources: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        body = {"persons": list(persons), "legal_basis": legal_basis, "purpose": purpose,
                "sources": list(sources) if sources else None}
        result: dict[str, Any] = self.post("/reid/requests", json=body)
        return result

    def get_reid_request(self, request_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/reid/requests/{request_id}")
        return result

    def list_reid_requests(self, *, status: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get(
            "/reid/requests", params={"status": status} if status else None)
        return result

    def approve_reid(self, request_id: str, *, reason: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.post(f"/reid/requests/{request_id}/approve",
                                           json={"reason": reason})
        return result

    def deny_reid(self, request_id: str, *, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self.post(f"/reid/requests/{request_id}/deny",
                                           json={"reason": reason})
        return result

    def reid_packages(self) -> list[dict[str, Any]]:
        """Packages waiting for the token's source."""
        result: list[dict[str, Any]] = self.get("/reid/packages")
        return result

    def fetch_reid_package(self, request_id: str, *, source: str) -> bytes:
        """The sealed package bytes (open them with ``client_sdk.reid.open_package``)."""
        return self.request("GET", f"/reid/requests/{request_id}/packages/{source}").content

    # ------------------------------------------------------------------ audit, statistics

    def audit_export(self, *, fmt: str = "jsonl") -> str:
        return self.request("GET", "/audit/export", params={"format": fmt}).text

    def audit_verify(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/audit/verify")
        return result

    def audit_checkpoint(self) -> dict[str, Any]:
        result: dict[str, Any] = self.post("/audit/checkpoint")
        return result

    def stats_tables(self, *, min_cell: int | None = None) -> Any:
        """The published statistics tables (analyst), suppressed at ``min_cell`` or above."""
        return self.get("/stats/tables",
                        params={"min_cell": min_cell} if min_cell is not None else None)


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str) and detail:
        return detail
    if detail:
        return str(detail)
    return f"el servicio respondió {response.status_code} (HTTP {response.status_code})"


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ServiceError("respuesta del servicio ilegible (not JSON)",
                           response.status_code) from None
