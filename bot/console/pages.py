"""The overview pages: home, publish, the coverage report, the change log."""

from __future__ import annotations

import asyncio
import datetime as dt

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.auth import Staff
from bot.console.context import REVIEW_SOON_DAYS
from bot.console.gap_pages import suggestions_of
from bot.console.guards import console_of, staff_only
from bot.knowledge.yamldoc import errors


@staff_only()
async def home(request: Request) -> Response:
    console = console_of(request)
    snap = console.snapshot()
    today = console.today()
    overdue = sorted((e for e in snap.kb if e.review_by < today), key=lambda e: e.review_by)
    soon = sorted(
        (e for e in snap.kb if today <= e.review_by <= today + dt.timedelta(REVIEW_SOON_DAYS)),
        key=lambda e: e.review_by,
    )
    suggestions = await suggestions_of(console)
    return console.render(
        request,
        "home.html",
        overdue=overdue,
        soon=soon,
        kb=snap.kb,
        errors=errors(snap.problems),
        publish=console.publisher.state(),
        changes=console.changes.recent(10),
        suggestions=suggestions,
        drafts=sum(e.is_draft for e in snap.kb),
    )


@staff_only()
async def publish_page(request: Request) -> Response:
    console = console_of(request)
    return console.render(request, "publish.html", state=console.publisher.state())


@staff_only()
async def publish_state(request: Request) -> Response:
    console = console_of(request)
    return console.render(request, "_publish_state.html", state=console.publisher.state())


@staff_only()
async def publish(request: Request) -> Response:
    console = console_of(request)
    staff: Staff = request.scope["staff"]
    if await asyncio.to_thread(console.publisher.start, staff.role, staff.key):
        console.changes.record("publish", "", staff.role, staff.key)
    return RedirectResponse("/publish", status_code=303)


@staff_only()
async def report_page(request: Request) -> Response:
    from bot.knowledge.report import build_report, load_catalogue, to_html

    console = console_of(request)
    snap = console.snapshot()
    report = build_report(
        snap.kb, snap.problems, load_catalogue(console.settings.kb_catalogue), console.today()
    )
    # The same HTML as `kb report --format html`, without its own page head and styles
    # (the console's stylesheet covers its classes; inline styles are not allowed).
    body = to_html(report).split("</style>", 1)[-1]
    return console.render(request, "report.html", report=body)


@staff_only()
async def changes_page(request: Request) -> Response:
    console = console_of(request)
    return console.render(request, "changes.html", changes=console.changes.recent(200))
