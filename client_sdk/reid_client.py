"""Calls of the re-identification and audit API, on top of ``ServiceClient``.

Example (against a running service)::

    client = ReidClient(ServiceClient("http://127.0.0.1:8000", token="vnc_…"))
    client.create_request(persons=["P-7KQ2M4XZ3A"], legal_basis="Ley 28950",
                          purpose="Carpeta fiscal 123-2025")["id"]   # 'rq-3f2a9c0d11e4b7a8'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from client_sdk.api_client import ServiceClient

__all__ = ["ReidClient"]


class ReidClient:
    """Typed helpers over a ServiceClient (whose token decides what is allowed)."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    def create_request(
        self,
        *,
        persons: Sequence[str],
        legal_basis: str,
        purpose: str,
        sources: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        body = {"persons": list(persons), "legal_basis": legal_basis, "purpose": purpose,
                "sources": list(sources) if sources else None}
        result: dict[str, Any] = self.client.post("/reid/requests", json=body)
        return result

    def get_request(self, request_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.get(f"/reid/requests/{request_id}")
        return result

    def list_requests(self, *, status: str | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.get(
            "/reid/requests", params={"status": status} if status else None)
        return result

    def approve(self, request_id: str, *, reason: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.client.post(
            f"/reid/requests/{request_id}/approve", json={"reason": reason})
        return result

    def deny(self, request_id: str, *, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.post(
            f"/reid/requests/{request_id}/deny", json={"reason": reason})
        return result

    def packages(self) -> list[dict[str, Any]]:
        """Packages waiting for the token's source."""
        result: list[dict[str, Any]] = self.client.get("/reid/packages")
        return result

    def fetch_package(self, request_id: str, *, source: str) -> bytes:
        """The sealed package bytes (open them with ``client_sdk.reid.open_package``)."""
        return self.client.request(
            "GET", f"/reid/requests/{request_id}/packages/{source}").content

    def audit_export(self, *, fmt: str = "jsonl") -> str:
        return self.client.request("GET", "/audit/export", params={"format": fmt}).text

    def audit_verify(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.get("/audit/verify")
        return result

    def audit_checkpoint(self) -> dict[str, Any]:
        result: dict[str, Any] = self.client.post("/audit/checkpoint")
        return result
