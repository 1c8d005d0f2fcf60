"""The ``/api/v1`` router: every module of ``linkage_service.api.routes`` that defines a
``router`` is included, in name order, so a new resource needs no edit here.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter

from linkage_service.api import routes

__all__ = ["api_router", "route_modules"]


def route_modules() -> list[str]:
    """Names of the route modules, sorted.

    >>> "uploads" in route_modules()
    True
    """
    return sorted(info.name for info in pkgutil.iter_modules(routes.__path__))


api_router = APIRouter(prefix="/api/v1")
for _name in route_modules():
    _module = importlib.import_module(f"{routes.__name__}.{_name}")
    _router = getattr(_module, "router", None)
    if isinstance(_router, APIRouter):
        api_router.include_router(_router)
