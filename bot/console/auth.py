"""Who is signed in: signed session cookies, CSRF tokens, roles.

The session is a cookie signed with the console's secret (itsdangerous): the account
name, the account's session key and a CSRF token. Nothing else about the person is in
it, and nothing is kept on the server, so every console worker on a shared DATA_DIR
accepts it. A session ends after `SESSION_HOURS`, on sign-out (the cookie is dropped),
or everywhere at once when the account gets a new session key (`migrant-bot accounts
password` or `signout`, or removing the account: one added again under the same name
has a new key).

Every request that changes something is a POST carrying the session's CSRF token (a
form field or the X-CSRF-Token header of the page's script) and, when the browser sends
one, an Origin of this very site; the cookie is SameSite=Lax and HttpOnly, and Secure
behind HTTPS.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.console.accounts import Account, AccountStore

SESSION_COOKIE = "console_session"
SESSION_HOURS = 8  # one working day; then sign in again
# Failed sign-ins per account name before it is locked for LOCK_MINUTES (per worker).
MAX_FAILURES = 5
LOCK_MINUTES = 15


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member as the handlers see them."""

    name: str
    role: str
    key: str  # salted key of the account: what the change log records
    csrf: str

    def can(self, role: str) -> bool:
        return role == "editor" or self.role == role


def staff_key(name: str, salt: str) -> str:
    """A stable pseudonym of an account for the change log (12 hex digits)."""
    return hmac.new(salt.encode(), f"console:{name}".encode(), hashlib.sha256).hexdigest()[:12]


class Sessions:
    def __init__(self, secret: str, accounts: AccountStore, salt: str) -> None:
        self._signer = URLSafeTimedSerializer(secret, salt="console-session")
        self.accounts = accounts
        self._salt = salt

    def issue(self, account: Account) -> tuple[str, str]:
        """(cookie value, CSRF token) for a new session of `account`."""
        csrf = secrets.token_urlsafe(24)
        value = self._signer.dumps({"a": account.name, "s": account.sessions, "c": csrf})
        return value, csrf

    def read(self, cookie: str | None) -> Staff | None:
        if not cookie:
            return None
        try:
            data = self._signer.loads(cookie, max_age=SESSION_HOURS * 3600)
        except BadSignature:  # also expired (SignatureExpired is a BadSignature)
            return None
        if not isinstance(data, dict):
            return None
        account = self.accounts.get(str(data.get("a", "")))
        if account is None or not hmac.compare_digest(
            account.sessions.encode(), str(data.get("s", "")).encode()
        ):
            return None
        return Staff(
            account.name, account.role, staff_key(account.name, self._salt), str(data.get("c", ""))
        )


def csrf_ok(staff: Staff, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(staff.csrf.encode(), str(token).encode())


class SignInLimiter:
    """At most MAX_FAILURES wrong passwords per name per LOCK_MINUTES, so that a
    password cannot be guessed through the form (per worker process)."""

    def __init__(self, clock=time.monotonic) -> None:
        self._failures: dict[str, list[float]] = {}
        self._clock = clock

    def locked(self, name: str) -> bool:
        now = self._clock()
        recent = [t for t in self._failures.get(name, []) if now - t < LOCK_MINUTES * 60]
        if recent:
            self._failures[name] = recent
        else:  # asking about a name never stores it
            self._failures.pop(name, None)
        return len(recent) >= MAX_FAILURES

    def failed(self, name: str) -> None:
        self._failures.setdefault(name, []).append(self._clock())
        if len(self._failures) > 10_000:  # a flood of made-up names must not grow memory
            now = self._clock()
            for other in [
                n for n, ts in self._failures.items() if now - ts[-1] > LOCK_MINUTES * 60
            ]:
                del self._failures[other]
            while len(self._failures) > 10_000:  # drop the oldest, never a recent lock
                oldest = min(self._failures, key=lambda n: self._failures[n][-1])
                del self._failures[oldest]

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)
