"""Staff accounts of the console: a name, a role and a hashed password.

Accounts are created on the command line (`migrant-bot accounts add NAME --role
editor`), never in the browser, so that whoever runs the server decides who may edit.
They live in DATA_DIR/console/accounts.json (mode 0600), shared by every console worker.
Passwords are hashed with scrypt (the standard library's, memory-hard: about 50 ms and
16 MiB per check, so guessing is slow and a check cannot be batched on
a GPU cheaply). A name is a login, not a person's name in the files: the change log
records the role and a salted key of the account (`staff_key`).

Roles: an editor edits entries, publishes and turns gaps into paraphrases; a reviewer
can do all of that and also marks entries reviewed (`kb review`), which is the claim
"a person checked these facts against this source".
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bot.console.files import console_dir, locked, write_atomic
from bot.errors import InputError

ROLES = ("editor", "reviewer")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")
MIN_PASSWORD = 10
# scrypt cost: N=2**14, r=8 uses 16 MiB and 42 ms per hash on the 2-core machine
# (`python3 -m timeit -s "import hashlib" "hashlib.scrypt(b'x'*12, salt=b's'*16,
# n=2**14, r=8, p=1)"`: 42.1 msec per loop), so a sign-in stays well under a second.
_N, _R, _P = 2**14, 8, 1


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password: str  # "scrypt$N$r$p$salt$hash", never the password itself
    # In every session cookie of the account; a new one (a new password, "sign out
    # everywhere", the account removed and added again) ends every session at once.
    sessions: str = ""

    def can(self, role: str) -> bool:
        """A reviewer can do everything an editor can."""
        return role == "editor" or self.role == role


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(
        ["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)],
    )


def password_matches(stored: str, password: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def _session_key() -> str:
    return secrets.token_urlsafe(12)


@functools.cache
def _dummy() -> str:
    """Checked when the name is unknown, so that a wrong name costs as long as a wrong
    password (the response time does not tell which names exist)."""
    return hash_password(secrets.token_urlsafe(16))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


class AccountStore:
    """The accounts file: read on every call (another worker may have changed it),
    written under a lock."""

    def __init__(self, data_dir: Path) -> None:
        self.path = console_dir(data_dir) / "accounts.json"

    def all(self) -> dict[str, Account]:
        if not self.path.exists():
            return {}
        try:
            rows = json.loads(self.path.read_text(encoding="utf-8"))
            return {row["name"]: Account(**row) for row in rows}
        except (ValueError, TypeError, KeyError) as exc:
            raise InputError(
                f"{self.path} is damaged ({exc}); restore it from a backup or delete it and "
                "create the accounts again with `migrant-bot accounts add`"
            ) from exc

    def get(self, name: str) -> Account | None:
        return self.all().get(name)

    def check(self, name: str, password: str) -> Account | None:
        """The account when the name and password match, else None (same cost either way)."""
        account = self.get(name.strip().lower())
        if account is None:
            password_matches(_dummy(), password)
            return None
        return account if password_matches(account.password, password) else None

    def add(self, name: str, role: str, password: str) -> Account:
        name = name.strip().lower()
        if not NAME_PATTERN.match(name):
            raise InputError(
                f"account name '{name}' must be 2-32 characters: small letters, digits, '.', "
                "'_' or '-' (a login such as 'lawyer1', not a full name)"
            )
        if role not in ROLES:
            raise InputError(f"role '{role}' must be one of: {', '.join(ROLES)}")
        _check_password(password)
        with locked(self.path):
            accounts = self.all()
            if name in accounts:
                raise InputError(
                    f"account '{name}' already exists; use `migrant-bot accounts password "
                    f"{name}` to change its password"
                )
            accounts[name] = Account(name, role, hash_password(password), _session_key())
            self._write(accounts)
        return accounts[name]

    def set_password(self, name: str, password: str) -> Account:
        _check_password(password)
        return self._change(
            name,
            lambda a: replace(a, password=hash_password(password), sessions=_session_key()),
        )

    def sign_out_everywhere(self, name: str) -> Account:
        return self._change(name, lambda a: replace(a, sessions=_session_key()))

    def remove(self, name: str) -> None:
        name = name.strip().lower()
        with locked(self.path):
            accounts = self.all()
            if accounts.pop(name, None) is None:
                raise InputError(f"no account '{name}' (see `migrant-bot accounts list`)")
            self._write(accounts)

    def _change(self, name: str, change: Callable[[Account], Account]) -> Account:
        name = name.strip().lower()
        with locked(self.path):
            accounts = self.all()
            if name not in accounts:
                raise InputError(f"no account '{name}' (see `migrant-bot accounts list`)")
            accounts[name] = change(accounts[name])
            self._write(accounts)
            return accounts[name]

    def _write(self, accounts: dict[str, Account]) -> None:
        rows = [asdict(a) for a in sorted(accounts.values(), key=lambda a: a.name)]
        write_atomic(self.path, json.dumps(rows, indent=1) + "\n", mode=0o600)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"the password must have at least {MIN_PASSWORD} characters")
