"""The project's own web app: platform webhooks mount their routes here, plus /healthz."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

log = logging.getLogger("redshield.web")


def build_web_app(db: AsyncEngine, routes: list[BaseRoute]) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        try:
            async with db.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception as err:  # any failure means: not healthy
            log.warning("health check: database unreachable: %s", type(err).__name__)
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *routes])
