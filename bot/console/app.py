"""The console's web application: the route table, the headers every response carries,
and opening the database for the app's lifetime.

One Starlette app, server-rendered (Jinja2); the pages are in `signin`, `pages`,
`entry_pages` and `gap_pages`, the checks they share in `guards`. Every page needs a
signed-in staff member;
every change is a POST with the session's CSRF token; each handler checks the role it
needs. The knowledge files are read from KB_DIR on each request (cached by their
modification times), so a change made by another worker, by git or by hand shows at
once, and a save never overwrites a file that changed after the form was opened.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.console import entry_pages, gap_pages, pages, signin
from bot.console.context import Console
from bot.console.guards import console_of
from bot.console.publishing import Publisher
from bot.errors import MigrantBotError
from bot.settings import Settings
from bot.storage import Storage

log = logging.getLogger(__name__)


async def not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    detail = getattr(exc, "detail", "Not found")
    return console_of(request).message(
        request,
        status,
        title="Not found" if status == 404 else "Error",
        message=str(detail),
    )


# Request bodies: the largest form (an entry, six languages) is about 60 KB; sign-in
# is a few hundred bytes. Anything bigger is refused before it is read, so a flood of
# huge posts (signed in or not) cannot fill memory or disk.
MAX_BODY = 1_000_000
MAX_LOGIN_BODY = 16_000


class BodyLimit:
    """Refuse a POST without Content-Length (411), over the limit (413) or not a plain
    urlencoded form (415: no file uploads anywhere in the console), before reading it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD"):
            headers = Headers(scope=scope)
            limit = MAX_LOGIN_BODY if scope["path"] == "/login" else MAX_BODY
            length = headers.get("content-length", "")
            kind = headers.get("content-type", "").split(";")[0].strip().lower()
            problem = None
            if not length.isdigit():
                problem = (411, "A length is required.")
            elif int(length) > limit:
                problem = (413, "Too large.")
            elif int(length) and kind != "application/x-www-form-urlencoded":
                problem = (415, "Only forms are accepted.")
            if problem is not None:
                response = PlainTextResponse(problem[1], status_code=problem[0])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def broken(request: Request, exc: Exception) -> Response:
    """A problem of the console's own files or configuration (a damaged accounts file):
    staff are told to call whoever runs it; the details go to the server log only."""
    log.error("console: %s", exc)
    return console_of(request).message(
        request,
        503,
        title="The console cannot work right now",
        message="Tell whoever runs the console; the server's log says what to fix.",
    )


async def _headers(request: Request, call_next) -> Response:
    response = await call_next(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'",
    )
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def create_app(
    settings: Settings,
    storage: Storage | None = None,
    publisher: Publisher | None = None,
    today: Callable[[], dt.date] = dt.date.today,
) -> Starlette:
    """The console app. Without `storage`, the configured database is opened at start
    (gaps and /teach suggestions); without a database, those pages say so."""
    console = Console(settings, storage, publisher, today)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        if console.storage is None:
            from bot.storage.factory import open_storage

            candidate = open_storage(settings)
            try:
                await candidate.open()
                console.storage = candidate
            except MigrantBotError as exc:
                log.warning("console: no database (%s); gaps and suggestions not shown", exc)
        try:
            yield
        finally:
            if console._own_storage and console.storage is not None:
                await console.storage.close()

    routes = [
        Route("/login", signin.login_page, methods=["GET"]),
        Route("/login", signin.login, methods=["POST"]),
        Route("/logout", signin.logout, methods=["POST"]),
        Route("/", pages.home),
        Route("/entries", entry_pages.entry_list),
        Route("/entries/{entry_id}", entry_pages.entry_page, methods=["GET"]),
        Route("/entries/{entry_id}", entry_pages.entry_save, methods=["POST"]),
        Route("/entries/{entry_id}/check", entry_pages.entry_check, methods=["POST"]),
        Route("/entries/{entry_id}/review", entry_pages.entry_review, methods=["POST"]),
        Route("/entries/{entry_id}/add", entry_pages.entry_add, methods=["POST"]),
        Route("/publish", pages.publish_page, methods=["GET"]),
        Route("/publish", pages.publish, methods=["POST"]),
        Route("/publish/state", pages.publish_state),
        Route("/gaps", gap_pages.gaps_page),
        Route("/gaps/paraphrase", gap_pages.add_paraphrase, methods=["POST"]),
        Route("/gaps/new-entry", gap_pages.new_entry, methods=["POST"]),
        Route("/gaps/dismiss", gap_pages.dismiss_gap, methods=["POST"]),
        Route("/suggestions/dismiss", gap_pages.dismiss_suggestion, methods=["POST"]),
        Route("/report", pages.report_page),
        Route("/changes", pages.changes_page),
        Mount(
            "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
        ),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BodyLimit), Middleware(BaseHTTPMiddleware, dispatch=_headers)],
        exception_handlers={404: not_found, 405: not_found, MigrantBotError: broken},
    )
    app.state.console = console
    return app
