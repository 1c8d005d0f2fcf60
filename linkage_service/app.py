"""The application factory: ``vinculo serve`` and the tests build the app the same way.

``create_app(settings)`` makes the engine, runs the migrations, loads (or creates) the
service key and installs routes, error handlers and the JSON access log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from linkage_service.api.deps import api_routes
from linkage_service.api.errors import install_exception_handlers
from linkage_service.api.main import api_router
from linkage_service.api.middleware import AccessLogMiddleware
from linkage_service.api.openapi import custom_openapi
from linkage_service.audit.log import POLICY_KEY, register_policy
from linkage_service.bank.jobs import recover_jobs
from linkage_service.bank.migration import check_bank_schema
from linkage_service.custody.records import clear_row_count, encrypt_bank_audited, open_custody
from linkage_service.db import current_revision, make_engine, migrate
from linkage_service.logs import configure_logging, log_event
from linkage_service.service_key import load_or_create_service_key
from linkage_service.settings import Settings
from linkage_service.web import install_console
from vinculo_common.crypto import key_id
from vinculo_common.schemas import load_linkage_schema, schema_fingerprint

__all__ = ["create_app"]


def _audit_session_info(service_key: Ed25519PrivateKey, settings: Settings) -> dict[str, Any]:
    """Session info the audit log reads: its checkpoint policy."""
    from linkage_service.audit.log import POLICY_KEY, CheckpointPolicy

    return {POLICY_KEY: CheckpointPolicy(signer=service_key, every=settings.audit_checkpoint_every)}


def create_app(settings: Settings, *, run_migrations: bool = True) -> FastAPI:
    """Build the service for ``settings``.

    >>> import tempfile
    >>> db = tempfile.mkdtemp() + "/bank.db"
    >>> create_app(Settings(database_url=f"sqlite:///{db}")).title
    'vinculo'
    """
    configure_logging(settings.log_level)
    # The key first: a service that cannot sign refuses to start before touching the database.
    service_key = load_or_create_service_key(settings)
    engine = make_engine(settings.database_url)
    if run_migrations:
        migrate(engine)
    session_info = _audit_session_info(service_key, settings)
    register_policy(engine, session_info[POLICY_KEY])
    # A job a dead process left queued or running: marked interrupted now, before any request.
    recover_jobs(engine, lease_s=settings.job_lease_seconds)
    # A bank migrated to another linkage schema runs only under that one (bank.migration).
    check_bank_schema(engine, settings.linkage_schema, extra=settings.extra_schema_fingerprints)
    custody = open_custody(engine, settings)
    in_clear = clear_row_count(engine)
    if in_clear:  # a bank from before custody: sealed in place on first start
        sealed = encrypt_bank_audited(engine, custody, actor="service:start")
        log_event("custody.encrypted", count=sealed, key_id=custody.key_id)
        in_clear = clear_row_count(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log_event("service.start", database=engine.dialect.name,
                  revision=current_revision(engine), key_id=key_id(service_key.public_key()))
        # count: rows still in clear (a bank from before custody: vinculo admin custody encrypt)
        log_event("custody.key", key_id=custody.key_id, count=in_clear,
                  reason_class="development_key" if custody.is_development else "custodian_key",
                  level=logging.WARNING if custody.is_development else logging.INFO)
        yield
        engine.dispose()

    app = FastAPI(
        title="vinculo",
        summary="Servicio de enlace de registros de víctimas de trata (record linkage service)",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.service_key = service_key
    # One bank, one schema: encodings made with different schemas cannot be compared.
    app.state.schema_fingerprints = {
        schema_fingerprint(load_linkage_schema(settings.linkage_schema))
    } | set(settings.extra_schema_fingerprints)
    app.state.session_info = session_info
    install_exception_handlers(app)
    app.add_middleware(AccessLogMiddleware)
    app.include_router(api_router)
    install_console(app)  # /consola: HTML pages over the same functions (docs/console.md)
    # Full path template of each route, for logs and audit labels (routers nest their paths).
    app.state.route_paths = {id(route): path for path, _m, route in api_routes(app)}
    custom_openapi(app, settings)  # one error shape, declared errors, bounds (docs/api.md)
    return app
