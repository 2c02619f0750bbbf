"""The project's own web app: platform webhooks mount their routes here, plus /healthz
and /metrics (Prometheus)."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot import metrics
from bot.core.engine import utcnow

log = logging.getLogger("redshield.web")


def build_web_app(db: AsyncEngine | None, routes: list[BaseRoute], *,
                  clock: Callable[[], dt.datetime] = utcnow) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        try:
            async with db.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception as err:  # any failure means: not healthy
            log.warning("health check: database unreachable: %s", type(err).__name__)
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

    async def metrics_page(request: Request) -> Response:
        backlog = None
        if db is not None:
            try:
                backlog = await metrics.outbox_backlog(db, clock())
            except Exception as err:  # the counters are still worth serving
                log.warning("metrics: database unreachable: %s", type(err).__name__)
        return Response(metrics.text(backlog), media_type=metrics.CONTENT_TYPE)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]),
                             Route("/metrics", metrics_page, methods=["GET"]), *routes])
