"""Marking an entry reviewed: the one edit staff make to say "a person checked this".

`migrant-bot kb review ID --by ROLE --source URL` sets `status: reviewed`, `as_of` (the
day the facts were checked), a new `review_by` and the `review` block (role, day,
source). The file is edited as text, line by line at the top level, so comments, key
order and the six language blocks stay exactly as staff wrote them; the result is
validated with the same checks as `kb check` before it is written, so a review never
leaves a file that `reindex` would refuse.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bot.errors import InputError
from bot.knowledge.validation import InvalidKnowledgeBase, check_entry_text
from bot.knowledge.yamldoc import URL_PATTERN, errors

REVIEW_INTERVAL_DAYS = 182  # the next review: about six months, as the first drafts set
ROLE_PATTERN = re.compile(r"^[a-z][a-z -]{1,39}$")
_TOP_KEY = re.compile(r"^([a-z_]+):")


@dataclass(frozen=True)
class Reviewed:
    path: Path
    by: str
    on: dt.date
    review_by: dt.date


def mark_reviewed(
    path: Path,
    by: str,
    source: str,
    on: dt.date | None = None,
    review_by: dt.date | None = None,
    today: dt.date | None = None,
) -> Reviewed:
    """Rewrite the entry file at `path` as reviewed; raise `InputError` (bad arguments)
    or `InvalidKnowledgeBase` (the edited entry would not pass kb check) and leave the
    file untouched."""
    today = today or dt.date.today()
    on = on or today
    review_by = review_by or on + dt.timedelta(days=REVIEW_INTERVAL_DAYS)
    by = " ".join(by.split()).lower()
    if not ROLE_PATTERN.match(by):
        raise InputError(
            f"--by '{by}' must be a role such as 'lawyer' or 'consultant' (letters, spaces, "
            "'-'; never a person's name: entry files are public)"
        )
    if not URL_PATTERN.match(source):
        raise InputError(
            f"--source '{source}' must be the web address of the source you checked "
            "(http:// or https://)"
        )
    if on > today:
        raise InputError(f"--on {on} is in the future; give the day of the review")
    if review_by <= on:
        raise InputError(f"--next {review_by} must be after the review day {on}")
    text = path.read_text(encoding="utf-8")
    new = _edited(text, on, review_by, by, source)
    problems = check_entry_text(new, str(path), today=today)
    if errors(problems):
        raise InvalidKnowledgeBase(problems)
    # Written beside and renamed over the file: a reader (the bot's reindex, the staff
    # console) never sees half of it.
    tmp = path.with_name(f".{path.name}.review")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)
    return Reviewed(path, by, on, review_by)


def _edited(text: str, on: dt.date, review_by: dt.date, by: str, source: str) -> str:
    values = {"status": "reviewed", "as_of": on.isoformat(), "review_by": review_by.isoformat()}
    block = [
        "review:",
        f"  by: {by}",
        f"  date: {on.isoformat()}",
        f"  source: {source}",
    ]
    out: list[str] = []
    skipping = False  # inside an old top-level review block
    placed = False
    for line in text.split("\n"):
        key = _TOP_KEY.match(line)
        if skipping and line and not line[0].isspace():  # the next top-level line
            skipping = False
        if skipping:
            continue
        if key and key.group(1) == "review":
            skipping = True
            continue
        if key and key.group(1) in values:
            line = f"{key.group(1)}: {values.pop(key.group(1))}"
            out.append(line)
            if key.group(1) == "review_by":
                out.extend(block)
                placed = True
            continue
        out.append(line)
    if values or not placed:
        missing = ", ".join(sorted(values)) or "review_by"
        raise InputError(f"the entry has no top-level {missing}; fix the file first (kb check)")
    return "\n".join(out)
