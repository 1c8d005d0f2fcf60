"""The service's public signing key: ``GET /api/v1/service/public-key`` (no token).

Institutions pin it to check re-identification packages and audit checkpoints.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from linkage_service.api.deps import PublicRoute, ServiceKeyDep
from vinculo_common.crypto import key_id, public_key_pem

__all__ = ["ServicePublicKey", "router"]

router = APIRouter(prefix="/service", tags=["service"])


class ServicePublicKey(BaseModel):
    algorithm: str = "Ed25519"
    key_id: str
    public_key_pem: str


@router.get("/public-key", dependencies=[PublicRoute])
def service_public_key(service_key: ServiceKeyDep) -> ServicePublicKey:
    """Example: ``curl http://127.0.0.1:8000/api/v1/service/public-key``"""
    public = service_key.public_key()
    return ServicePublicKey(key_id=key_id(public), public_key_pem=public_key_pem(public).decode())
