"""Run the app under uvicorn: worker processes, timeouts for slow clients, no uvicorn access log (the app
writes one JSON line per request itself)."""

from __future__ import annotations

import uvicorn

from api.db import DecisionLog
from api.settings import Settings


def serve(host: str, port: int, workers: int, quiet: bool) -> None:
    settings = Settings()
    # Migrate once here: worker processes starting together would otherwise race to create the tables.
    log = DecisionLog(settings.database_url)
    log.upgrade()
    log.dispose()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning" if quiet else "info",
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections,
        server_header=False,
    )
