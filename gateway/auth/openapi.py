"""The answers the auth middleware gives, documented on every operation it guards."""

from fastapi import FastAPI

from gateway.auth.middleware import _public

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
ANSWERS = {
    "401": {"description": "No API key, or a wrong or revoked one.", "content": _ERROR},
    "403": {"description": "The key may not do this (admin routes).", "content": _ERROR},
    "429": {"description": "Over the key's request rate or concurrent generations, or the "
                           "project's job quota.", "content": _ERROR,
            "headers": {"Retry-After": {"description": "Seconds to wait.",
                                        "schema": {"type": "integer"}}}},
}


def document(app: FastAPI) -> None:
    """Wrap `app.openapi` so each guarded operation lists 401, 403 and 429."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = build()
            for path, ops in schema.get("paths", {}).items():
                if _public(path):
                    continue
                for op in ops.values():
                    for status, answer in ANSWERS.items():
                        op.setdefault("responses", {}).setdefault(status, answer)
        return app.openapi_schema
    app.openapi = openapi
