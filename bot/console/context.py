"""What every console page shares: the settings, the stores in DATA_DIR, the database,
the models (loaded on first use) and the knowledge files as they are now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.console.accounts import AccountStore
from bot.console.auth import Sessions, SignInLimiter
from bot.console.changes import ChangeLog
from bot.console.files import console_dir, locked, read_text
from bot.console.publishing import Publisher
from bot.domain import LANGUAGE_NAMES
from bot.knowledge.editing import EditError, EntryFields, read_fields
from bot.knowledge.entries import Entry, KnowledgeBase
from bot.knowledge.validation import check_kb, parse_entry_text
from bot.knowledge.yamldoc import ID_PATTERN, Problem
from bot.privacy import salt_from, secret_file
from bot.settings import Settings
from bot.storage import Storage

NEW_PREFIX = "_"  # a new entry's file until it is added to the knowledge base
REVIEW_SOON_DAYS = 30  # "due soon" on the home page and the entries filter
GAP_GROUPS = 40  # groups shown on the gaps page (the biggest first)


@dataclass
class _Snapshot:
    """The knowledge base as the files are now, with kb check's problems."""

    stamp: tuple
    kb: KnowledgeBase
    problems: list[Problem]
    by_path: dict[str, list[Problem]] = field(default_factory=dict)


class Console:
    """What the handlers share: settings, the stores in DATA_DIR, storage, models."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage | None = None,
        publisher: Publisher | None = None,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.settings = settings
        self.kb_dir = Path(settings.kb_dir)
        salt = salt_from(settings)
        self.accounts = AccountStore(settings.data_dir)
        secret = (
            settings.console_secret.get_secret_value()
            if settings.console_secret is not None
            else secret_file(
                console_dir(settings.data_dir) / "secret",
                lost="everyone signed in must sign in again",
                setting="CONSOLE_SECRET",
            )
        )
        self.sessions = Sessions(secret, self.accounts, salt)
        self.limiter = SignInLimiter()
        self.changes = ChangeLog(settings.data_dir)
        self.locks = console_dir(settings.data_dir) / "locks"
        self.topics: dict[tuple[str, str, str], str | None] = {}  # gaps: (text, lang, version)
        self.publisher = publisher or Publisher(settings)
        self.storage = storage
        self._own_storage = storage is None
        self.today = today
        self.secure = settings.console_public_url.startswith("https://")
        self._snapshot: _Snapshot | None = None
        self._assistant: Any = None
        self._embedder: Any = None
        self.templates = Environment(
            loader=PackageLoader("bot.console", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- knowledge -------------------------------------------------------------
    def snapshot(self) -> _Snapshot:
        files = sorted(self.kb_dir.glob("*.yaml"))
        stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
        if self._snapshot is None or self._snapshot.stamp != stamp:
            kb, problems = check_kb(self.kb_dir, self.settings.kb_languages, self.today())
            by_path: dict[str, list[Problem]] = {}
            for p in problems:
                by_path.setdefault(Path(p.path).name, []).append(p)
            self._snapshot = _Snapshot(stamp, kb, problems, by_path)
        return self._snapshot

    def entry_path(self, entry_id: str) -> Path:
        """The file of an entry: `ID.yaml`, or `_ID.yaml` for a new entry started in the
        console that is not in the knowledge base yet (kb check and reindex skip files
        starting with `_`)."""
        if ID_PATTERN.fullmatch(entry_id):
            for name in (f"{entry_id}.yaml", f"{NEW_PREFIX}{entry_id}.yaml"):
                if (self.kb_dir / name).is_file():
                    return self.kb_dir / name
        raise HTTPException(404, "no such entry")

    def lock(self, path: Path):
        """The lock for editing an entry file; lock files live in DATA_DIR/console/locks,
        not among the knowledge files that staff commit."""
        return locked(path, folder=self.locks)

    def read_entry(self, path: Path) -> tuple[str, EntryFields]:
        """An entry file's text as stored and its form fields; `EditError` with what to
        fix when the file cannot be edited in the console (not YAML, not an entry)."""
        try:
            text = read_text(path)
        except UnicodeDecodeError as exc:
            raise EditError(
                f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start}): save it "
                "as UTF-8 in an editor, then reload"
            ) from exc
        return text, read_fields(text)

    def new_entries(self) -> list[str]:
        return sorted(p.stem[len(NEW_PREFIX) :] for p in self.kb_dir.glob(f"{NEW_PREFIX}*.yaml"))

    def check(self, text: str, path: Path) -> tuple[Entry | None, list[Problem]]:
        """The entry in `text` and kb check's problems of it, named after `path`'s file.
        A new entry is checked as the `ID.yaml` it will become."""
        entry_id = path.stem.removeprefix(NEW_PREFIX)
        entry, problems = parse_entry_text(
            text, str(self.kb_dir / f"{entry_id}.yaml"), self.settings.kb_languages, self.today()
        )
        return entry, [replace(p, path=path.name) for p in problems]

    # -- models (loaded on first use, in a thread) ------------------------------
    def embedder(self) -> Any:
        if self._embedder is None:
            from bot.retrieval.embed import make_embedder

            self._embedder = make_embedder(self.settings)
        return self._embedder

    def assistant(self) -> Any:
        """The assistant on the index in service (None when there is no index yet)."""
        if self._assistant is None:
            from bot.retrieval.assistant import Assistant
            from bot.retrieval.index import CorruptIndex, IndexNotFound

            try:
                self._assistant = Assistant(self.settings, self.embedder())
            except (IndexNotFound, CorruptIndex):
                return None
        return self._assistant

    def message(
        self, request: Request, status: int, title: str, message: str, back: str = "/"
    ) -> Response:
        """A page that says what happened and what to do, with a way back."""
        return self.render(request, "message.html", status, title=title, message=message, back=back)

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> Response:
        staff = request.scope.get("staff")
        page = self.templates.get_template(template).render(
            request=request,
            staff=staff,
            csrf=staff.csrf if staff else "",
            languages=self.settings.kb_languages,
            language_names=LANGUAGE_NAMES,
            **context,
        )
        return HTMLResponse(page, status_code=status)


# ---------------------------------------------------------------------- guards
