"""Tenancy of the gateway: projects, API keys, per-key limits and per-project isolation."""

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Add the admin API and the authenticating middleware to `app`."""
    from gateway.auth.admin import router
    from gateway.auth.middleware import AuthMiddleware
    from gateway.auth.openapi import document

    app.include_router(router)
    app.add_middleware(AuthMiddleware)
    document(app)
