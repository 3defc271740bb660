"""The console's change log: who changed what, when. One JSON line per change in
DATA_DIR/console/changes.jsonl, appended under a lock.

"Who" is the account's role and its salted key (`auth.staff_key`), never a name: the
log answers "was this edited by a reviewer or an editor, and by the same account as
that other change?" without keeping who the person is. The files themselves are the
history of *what* changed (git diff); the log ties each change to an action.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.console.files import console_dir, locked


@dataclass(frozen=True)
class Change:
    at: str  # ISO time, UTC, seconds
    action: str  # save | review | publish | paraphrase | suggestion | gap | new-entry
    entry: str  # entry id, or "" for publish
    role: str
    staff: str  # salted account key
    detail: str = ""


class ChangeLog:
    def __init__(self, data_dir: Path) -> None:
        self.path = console_dir(data_dir) / "changes.jsonl"

    def record(self, action: str, entry: str, role: str, staff: str, detail: str = "") -> Change:
        change = Change(
            dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            action,
            entry,
            role,
            staff,
            detail[:300],
        )
        with locked(self.path), open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(change), ensure_ascii=False) + "\n")
        return change

    def recent(self, limit: int = 50, entry: str | None = None) -> list[Change]:
        """The newest changes first (optionally of one entry); unreadable lines skipped."""
        if not self.path.exists():
            return []
        found: list[Change] = []
        for line in reversed(self.path.read_text(encoding="utf-8").splitlines()):
            try:
                change = Change(**json.loads(line))
            except (ValueError, TypeError):
                continue
            if entry is None or change.entry == entry:
                found.append(change)
                if len(found) >= limit:
                    break
        return found
