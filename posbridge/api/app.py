"""The app factory: security first, then routes, problem+json for every error."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from posbridge import __version__
from posbridge.api.direct import DirectRoutes
from posbridge.api.errors import install_error_handlers
from posbridge.api.events import events_router
from posbridge.api.routes import (
    catalog,
    devices,
    emulators,
    fiscal,
    hangtags,
    health,
    jobs,
    printers,
    receipts,
    scans,
)
from posbridge.api.security import SecurityMiddleware, require_token
from posbridge.runtime import Runtime

__all__ = ["create_app"]


def create_app(runtime: Runtime) -> FastAPI:
    """Build the HTTP app around a started ``Runtime`` (its lifetime is the caller's)."""
    app = FastAPI(
        title="posbridge",
        version=__version__,
        summary="Local bridge from POS apps to receipt printers, drawers and other store hardware",
    )
    app.state.runtime = runtime
    app.state.token = runtime.token
    install_error_handlers(app)
    fiscal.install_fiscal_errors(app)
    app.include_router(health.router)
    protected = [Depends(require_token)]
    for module in (devices, printers, hangtags, catalog, scans, fiscal, jobs, emulators, receipts):
        app.include_router(module.router, dependencies=protected)
    app.include_router(events_router(lambda connection: connection.app.state.runtime.events))
    # Inside the security checks (middleware added later wraps what came before).
    app.add_middleware(DirectRoutes, routes=[printers.RECEIPTS])
    server = runtime.config.server
    app.add_middleware(
        SecurityMiddleware,
        allowed_hosts=server.allowed_hosts,
        allowed_origins=server.allowed_origins,
        max_body_bytes=server.max_body_bytes,
    )
    return app
