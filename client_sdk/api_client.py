"""HTTP client of the linkage service, for institutions and operators.

Takes an ``httpx.Client`` or a transport, so tests run it against the real app in-process and
against a real server alike. Every error comes out as ``ServiceError(reason, status)``: the
service's ``detail`` for an HTTP error, a Spanish sentence for a network failure (status 0).

>>> client = ServiceClient("http://127.0.0.1:8000", token="vnc_…")  # doctest: +SKIP
>>> client.upload(Path("reta.vnb"))["record_count"]                   # doctest: +SKIP
1200
"""

from __future__ import annotations

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
