"""The carerules HTTP API and web page: a thin layer over the engine. This module only assembles the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.auth import guard
from api.auth.identity import EDITIONS, Authenticator, Forbidden, NotSignedIn, StartRefused, auth_config
from api.routes import audits, catalogue, decisions, responses
from api.routes import editions as edition_routes
from api.routes.fast_path import DecisionFastPath
from api.routes.openapi_docs import SWAGGER_UI_DIR, document
from api.routes.schemas import placement_schema
from api.routes.service import Clock, Decider
from api.serve.edition import Editions
from api.serve.forwarded import ProxyHeaders, UnderRootPath
from api.serve.hosts import TrustedHosts
from api.serve.metrics import router as metrics_router
from api.serve.observe import Observe, ensure_request_log
from api.serve.settings import Settings
from api.serve.telemetry import fastapi_telemetry
from api.store.decision_log import DecisionLog, LogUnavailable
from api.store.log_writer import LogWriter, Writer
from api.store.sqlite_writer import SqliteInserter, SqliteWriter
from api.store.workflow import WorkflowStore
from api.uploads.limits import BodyLimit
from api.uploads.runner import AuditRunner
from api.web import pages, rates, refusals, signin
from engine.audit.books.block_beds import load_block_beds
from engine.audit.books.book import BookError
from engine.audit.books.providers import load_register
from engine.validate.placement import InputError


def utc_now() -> datetime:
    return datetime.now(UTC)


def writer_for(log: DecisionLog, synchronous: str = "full") -> Writer:
    """SQLite: the worker processes take turns at one file, its commits synced as ``synchronous`` says; anything
    else (PostgreSQL): a writer thread with a timeout on every request."""
    if make_url(log.url).get_backend_name() == "sqlite":
        return SqliteWriter(log, inserter=SqliteInserter(log, synchronous))
    return LogWriter(log)


def create_app(settings: Settings | None = None, clock: Clock = utc_now) -> FastAPI:
    settings = settings or Settings()
    ensure_request_log()
    log = DecisionLog(settings.database_url, settings.db_timeout_seconds)
    log.upgrade()
    auth = Authenticator(WorkflowStore(log.engine), auth_config(settings), lambda: clock())
    refusal = auth.refusal()
    if refusal:
        log.dispose()
        raise StartRefused(refusal)
    writer = writer_for(log, settings.sqlite_synchronous)
    try:
        register = load_register(settings.providers_file) if settings.providers_file is not None else None
        if settings.block_beds_file is not None:
            load_block_beds(settings.block_beds_file)  # refused at start, not at the first audit
        editions = Editions(settings.rules_dir, lambda engine: Decider(engine, writer, clock, register))
    except BookError as exc:
        log.dispose()
        raise StartRefused(str(exc)) from None
    except Exception:
        log.dispose()
        raise

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        writer.start()  # again when the app is started after a shutdown (as test clients may do)
        editions.start()  # the rulebook folder is watched while the app serves
        yield
        editions.stop()
        writer.close()
        log.dispose()

    app = FastAPI(
        docs_url=None,  # served below from local Swagger UI files: no assets from the internet
        redoc_url=None,
        title="carerules",
        summary="Care-placement pricing and charging decisions, as dated and cited rules",
        version=editions.current.version,
        lifespan=lifespan,
        **fastapi_telemetry(),  # FastAPI's per-request OpenTelemetry check, off when none is configured
    )
    # the edition in force (engine and decider) is app.state.editions.current, swapped when the rulebook changes
    app.state.settings, app.state.editions, app.state.log, app.state.clock = settings, editions, log, clock
    app.state.auth = auth
    app.state.audits = AuditRunner(
        settings.max_concurrent_audits, settings.max_audit_seconds, settings.audit_memory_bytes
    )

    app.add_exception_handler(InputError, responses.input_error)
    app.add_exception_handler(responses.ApiError, responses.api_error)
    app.add_exception_handler(RequestValidationError, responses.validation_error)
    app.add_exception_handler(StarletteHTTPException, responses.http_error)
    app.add_exception_handler(LogUnavailable, responses.log_unavailable)
    app.add_exception_handler(SQLAlchemyError, responses.log_unavailable)
    app.add_exception_handler(NotSignedIn, refusals.not_signed_in)
    app.add_exception_handler(Forbidden, refusals.forbidden)
    app.add_exception_handler(Exception, responses.unexpected_error)
    app.add_middleware(UnderRootPath, root_path=settings.root_path)  # innermost: the sub-path back before routing
    app.add_middleware(DecisionFastPath, handlers=app.exception_handlers)  # every check above applies
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(guard.SignedInBeforeUpload)  # before the body limit reads a byte of an upload
    app.add_middleware(guard.SignedInBeforeUpload, prefix="/v1/editions", allowed=EDITIONS)  # rates files too
    app.add_middleware(guard.SameOrigin)
    app.add_middleware(TrustedHosts, allowed_hosts=settings.allowed_hosts)  # Starlette's check, its verdicts kept
    app.add_middleware(Observe)  # every response, refusals included, is logged and gets the headers
    # outermost: the browser's scheme and address from an allowed reverse proxy; the sub-path off the path
    app.add_middleware(ProxyHeaders, allow=settings.forwarded_allow_ips, root_path=settings.root_path)

    app.include_router(decisions.router)
    app.include_router(audits.router)
    app.include_router(catalogue.router)
    app.include_router(edition_routes.router)
    app.include_router(pages.router)
    app.include_router(rates.router)
    app.include_router(signin.router)
    app.include_router(metrics_router)
    app.mount("/static", StaticFiles(directory=pages.STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=SWAGGER_UI_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        return pages.templates.TemplateResponse(request, "docs.html", {"root": request.scope.get("root_path", "")})

    def openapi() -> dict[str, Any]:
        version = editions.current.version  # the document names the edition in force
        if app.openapi_schema is None or app.openapi_schema["info"]["version"] != version:
            schema = get_openapi(title=app.title, version=version, summary=app.summary, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["PlacementIn"] = placement_schema()
            batch = schema["paths"]["/v1/decisions/batch"]["post"]["requestBody"]["content"]["application/json"]
            batch["schema"]["maxItems"] = settings.max_batch
            app.openapi_schema = document(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
