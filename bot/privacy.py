"""Privacy helpers: salted user keys and anonymisation of question texts.

The bot never stores or logs a raw Telegram user id: everything that must be tied to a
user (interface language, feedback, reminders, the gaps log) is keyed by `user_key`, an
HMAC of the id with a secret salt, so a leaked database or log cannot be joined back to
Telegram accounts without the salt. Question texts are stored only in the gaps log and
only after `anonymise`, which removes what could identify a person (contacts, document
numbers, every digit).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

SALT_FILE = "salt"
MAX_TEXT = 500
# Input beyond this is never looked at (keeps the regular expressions cheap on huge
# messages); the cut is moved back to a word boundary so no half-token survives.
_MAX_INPUT = 4 * MAX_TEXT


def user_key(user_id: int, salt: str) -> str:
    """A stable pseudonym for a Telegram user id (HMAC-SHA256 with the secret salt)."""
    if not salt:
        raise ValueError("user_key needs a non-empty salt (see USER_HASH_SALT)")
    digest = hmac.new(salt.encode(), str(int(user_id)).encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def salt_from(settings: Settings) -> str:
    """USER_HASH_SALT when set; otherwise a random salt generated once and kept in
    DATA_DIR/salt (mode 0600), so that user keys stay stable across restarts.

    Creation is atomic: the salt is written to a private temporary file and hard-linked
    into place, so two processes starting together agree on one salt and nobody ever
    reads a half-written file.
    """
    configured = settings.user_hash_salt
    if configured is not None and configured.get_secret_value().strip():
        return configured.get_secret_value().strip()
    return secret_file(
        Path(settings.data_dir) / SALT_FILE,
        lost="user keys change, so stored languages and reminders are no longer found",
        setting="USER_HASH_SALT",
    )


def _read_secret(path: Path, lost: str, setting: str) -> str:
    value = path.read_text(encoding="ascii").strip()
    if not value:
        raise ValueError(
            f"the secret file {path} is empty; delete it to generate a new one ({lost}) "
            f"or set {setting}"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("secret file %s was readable by others (mode %o); setting 0600", path, mode)
        os.chmod(path, 0o600)
    return value


def secret_file(path: Path, *, lost: str, setting: str) -> str:
    """A random secret generated once and kept in `path` (mode 0600): the user-key salt,
    the staff console's cookie key. Creation is atomic (see `salt_from`), so processes
    starting together on a shared DATA_DIR agree on one value. `lost` says what a new
    one would cost and `setting` what to set instead, for the error on an empty file."""
    if path.exists():
        return _read_secret(path, lost, setting)
    path.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(salt + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if another process created it first
        except FileExistsError:
            pass
        except OSError:
            # A filesystem without hard links: O_EXCL on the final name instead.
            if not path.exists():
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_secret(path, lost, setting)


# -- anonymisation ------------------------------------------------------------------

_EMAIL = re.compile(r"[^\s@<>()\[\]\\,;:\"]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]*://|\bwww\.)\S+"  # with a scheme or www.
    r"|\b(?:[a-z0-9-]+\.)+[a-z]{2,24}(?:/\S*)?",  # bare domain, e.g. t.me/name, mos.ru
    re.IGNORECASE | re.ASCII,
)
# A phone number: 10-15 digits with the usual separators, or "+" and at least 7 digits.
_PHONE = re.compile(r"(?<!\w)(?:\+\d(?:[\s().-]*\d){6,14}|\d(?:[\s().-]*\d){9,14})(?!\w)")
# Document numbers: a letter series and a number ("AA1234567", "FA 1234567", "N12345678"),
# or any word mixing letters with four or more digits.
_DOCUMENT = re.compile(
    r"(?<!\w)[A-ZА-ЯЁ]{1,3}[\s№-]?\d{5,10}(?!\w)"
    r"|(?<!\w)(?=\w*[^\W\d_])(?=(?:\w*?\d){4})\w+(?!\w)"
)
_HANDLE = re.compile(r"(?<![\w@#])@\w+")


def anonymise(text: str) -> str:
    """The text with e-mail addresses, URLs, phone numbers, document numbers and
    @handles replaced by placeholders and every remaining digit replaced by "#";
    whitespace collapsed, at most 500 characters. Idempotent."""
    if len(text) > _MAX_INPUT:
        cut = text[:_MAX_INPUT]
        head, sep, _tail = cut.rpartition(" ")
        text = head if sep else cut
    out = _anonymise_once(text)
    for _ in range(3):  # placeholders can make a pattern appear; stop at a fixed point
        again = _anonymise_once(out)
        if again == out:
            break
        out = again
    return out


def mask_personal(text: str) -> str:
    """The text with e-mail addresses, phone numbers, document numbers and @handles
    replaced by placeholders, everything else kept (dates and sums matter to the
    consultant who reads a case). What a person wrote to a consultant goes through this
    before it reaches the staff chat or the database."""
    out = text
    for _ in range(3):  # placeholders can make a pattern appear; stop at a fixed point
        again = _HANDLE.sub(
            "<user>", _DOCUMENT.sub("<id>", _PHONE.sub("<phone>", _EMAIL.sub("<email>", out)))
        )
        if again == out:
            break
        out = again
    return out.strip()


def _anonymise_once(text: str) -> str:
    text = _EMAIL.sub("<email>", text)
    text = _URL.sub("<url>", text)
    text = _PHONE.sub("<phone>", text)
    text = _DOCUMENT.sub("<id>", text)
    text = _HANDLE.sub("<user>", text)
    # Every digit of any script (Arabic-Indic, full-width, superscripts...).
    text = "".join("#" if ch.isnumeric() else ch for ch in text)
    text = " ".join(text.split())
    return text[:MAX_TEXT].rstrip()
