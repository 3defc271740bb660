"""Who may see a page and who may change something: signed-in staff, their role, the
session's CSRF token and this site's Origin on every POST."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.auth import SESSION_COOKIE, csrf_ok
from bot.console.context import Console

Handler = Callable[[Request], Awaitable[Response]]


def console_of(request: Request) -> Console:
    return request.app.state.console


def same_origin(request: Request) -> bool:
    """A browser sends Origin with every POST; one from another site is refused."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", "")


def staff_only(role: str = "editor") -> Callable[[Handler], Handler]:
    """A page for signed-in staff with `role`: others are sent to sign in (GET) or
    refused (POST: 403); a POST also needs the session's CSRF token and, when the
    browser sends one, this site's Origin."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            console = console_of(request)
            staff = console.sessions.read(request.cookies.get(SESSION_COOKIE))
            if staff is None:
                if request.method == "GET":
                    back = urlencode({"next": request.url.path})
                    return RedirectResponse(f"/login?{back}", status_code=303)
                return refused(request, 403, "Sign in first.")
            request.scope["staff"] = staff
            if request.method == "POST":
                form = await request.form()
                token = request.headers.get("x-csrf-token") or form.get("csrf")
                if not same_origin(request) or not csrf_ok(staff, str(token or "")):
                    return refused(
                        request,
                        403,
                        "This form is out of date or came from another site. Reload the page "
                        "and try again.",
                    )
            if not staff.can(role):
                return refused(request, 403, f"This needs the {role} role.")
            return await handler(request)

        return guarded

    return wrap


def refused(request: Request, status: int, message: str) -> Response:
    return console_of(request).message(request, status, title="Not allowed", message=message)
