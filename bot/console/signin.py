"""Signing in and out."""

from __future__ import annotations

import asyncio

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.auth import SESSION_COOKIE, SESSION_HOURS, Staff
from bot.console.guards import console_of, refused, same_origin, staff_only


async def login_page(request: Request) -> Response:
    return console_of(request).render(request, "login.html", next=_next(request))


def _next(request: Request, form: FormData | None = None) -> str:
    asked = form.get("next") if form is not None else None
    target = str(asked or request.query_params.get("next") or "/")
    # Only a path of this site: never an address elsewhere ("//evil", "https://...").
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def login(request: Request) -> Response:
    console = console_of(request)
    form = await request.form()
    if not same_origin(request):
        return refused(request, 403, "Sign in from the console's own page.")
    name = str(form.get("name", "")).strip().lower()[:64]
    password = str(form.get("password", ""))[:1024]
    if console.limiter.locked(name):
        return console.render(
            request,
            "login.html",
            429,
            next=_next(request, form),
            name=name,
            error="Too many wrong passwords for this account. Wait 15 minutes, or ask whoever "
            "runs the console to set a new password.",
        )
    account = await asyncio.to_thread(console.accounts.check, name, password)
    if account is None:
        console.limiter.failed(name)
        return console.render(
            request,
            "login.html",
            401,
            next=_next(request, form),
            name=name,
            error="Wrong account name or password.",
        )
    console.limiter.succeeded(name)
    value, _csrf = console.sessions.issue(account)
    response = RedirectResponse(_next(request, form), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        secure=console.secure,
        samesite="lax",
        path="/",
    )
    return response


@staff_only()
async def logout(request: Request) -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    form = await request.form()
    if form.get("everywhere"):
        staff: Staff = request.scope["staff"]
        console_of(request).accounts.sign_out_everywhere(staff.name)
    return response


# ---------------------------------------------------------------------- pages
