"""The entry list and the entry page: edit with validation and a Telegram preview as
staff type, save without overwriting another person's change, mark reviewed."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.auth import Staff
from bot.console.context import NEW_PREFIX, REVIEW_SOON_DAYS, Console
from bot.console.files import read_text, write_atomic
from bot.console.guards import console_of, staff_only
from bot.console.preview import Preview, previews
from bot.errors import MigrantBotError
from bot.knowledge.editing import (
    EditError,
    EntryFields,
    LanguageFields,
    SourceFields,
    apply_fields,
    fingerprint,
)
from bot.knowledge.entries import Entry
from bot.knowledge.review import ROLE_PATTERN, mark_reviewed
from bot.knowledge.validation import ANSWER_SOFT_LIMIT, SHORT_LIMIT
from bot.knowledge.yamldoc import URL_PATTERN, Problem, errors

# A save of a reviewed entry makes it a draft again: the review covered the old text.
_STATUS_LINE = re.compile(r"^status: reviewed[ \t]*$", re.MULTILINE)


@staff_only()
async def entry_list(request: Request) -> Response:
    console = console_of(request)
    snap = console.snapshot()
    today = console.today()
    q = request.query_params
    text = q.get("q", "").strip().casefold()
    rows = []
    for entry in sorted(snap.kb, key=lambda e: e.id):
        missing = [lang for lang in console.settings.kb_languages if lang not in entry.text]
        long = [
            lang
            for lang, t in entry.text.items()
            if len(t.short) > SHORT_LIMIT or len(t.answer) > ANSWER_SOFT_LIMIT
        ]
        due = (
            "overdue"
            if entry.review_by < today
            else "soon"
            if entry.review_by <= today + dt.timedelta(REVIEW_SOON_DAYS)
            else ""
        )
        haystack = " ".join([entry.id, *(t.title for t in entry.text.values())]).casefold()
        if text and text not in haystack:
            continue
        if q.get("country") and entry.country != q["country"]:
            continue
        if q.get("status") and entry.status != q["status"]:
            continue
        if q.get("due") and (due != q["due"] and not (q["due"] == "any" and due)):
            continue
        if q.get("missing") and q["missing"] not in missing:
            continue
        if q.get("long") and not long:
            continue
        problems = snap.by_path.get(f"{entry.id}.yaml", [])
        rows.append(
            {"entry": entry, "missing": missing, "long": long, "due": due, "problems": problems}
        )
    broken = sorted({Path(p.path).stem for p in errors(snap.problems)} - set(snap.kb.entries))
    countries = sorted({e.country for e in snap.kb})
    return console.render(
        request,
        "entries.html",
        rows=rows,
        broken=broken,
        q=q,
        countries=countries,
        new=console.new_entries(),
    )


def _fields_from(form: FormData, current: EntryFields, languages: tuple[str, ...]) -> EntryFields:
    """The entry form as `EntryFields`. Sources are rows `source{i}.*` (citation, url,
    supports, a title per language, a "remove" box) plus one empty row for a new one."""

    def value(name: str, default: str = "") -> str:
        got = form.get(name)
        return default if got is None else str(got)

    def lines(name: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in value(name).splitlines() if x.strip())

    text = {
        lang: LanguageFields(
            title=value(f"{lang}.title"),
            short=value(f"{lang}.short"),
            answer=value(f"{lang}.answer"),
            questions=lines(f"{lang}.questions"),
            not_about=lines(f"{lang}.not_about"),
        )
        for lang in languages
        if f"{lang}.title" in form
    }
    sources = []
    for i in range(len(current.sources) + 1):
        old = current.sources[i] if i < len(current.sources) else SourceFields("", "", "")
        if form.get(f"source{i}.remove"):
            continue
        titles = {
            lang: value(f"source{i}.{lang}", old.titles.get(lang, ""))
            for lang in (*languages, *(k for k in old.titles if k not in languages))
        }
        sources.append(
            SourceFields(
                title=value(f"source{i}.title", old.title),
                url=value(f"source{i}.url", old.url).strip(),
                supports=value(f"source{i}.supports", old.supports),
                titles={k: v for k, v in titles.items() if v.strip() or k in old.titles},
            )
        )
    return EntryFields(
        text=text,
        sources=tuple(sources),
        as_of=value("as_of", current.as_of).strip(),
        review_by=value("review_by", current.review_by).strip(),
    )


@dataclass
class _Draft:
    """An entry form as submitted: the new file text, its problems and previews."""

    fields: EntryFields
    text: str
    problems: list[Problem]
    previews: list[Preview]


def _unreadable(request: Request, console: Console, path: Path, exc: EditError) -> Response:
    return console.message(
        request,
        422,
        title=f"{path.name} cannot be edited here",
        message=f"{exc} (then run `migrant-bot kb check`, which names the line).",
        back="/entries",
    )


def _draft(
    console: Console, path: Path, current: str, stored: EntryFields, form: FormData
) -> _Draft:
    """The form applied to the file's text `current` (whose fields are `stored`)."""
    fields = _fields_from(form, stored, console.settings.kb_languages)
    try:
        new = apply_fields(current, fields)
    except EditError as exc:
        return _Draft(fields, current, [Problem(path.name, 1, str(exc))], [])
    entry, problems = console.check(new, path)
    return _Draft(fields, new, problems, previews(entry) if entry else [])


@staff_only()
async def entry_page(request: Request) -> Response:
    console = console_of(request)
    entry_id = request.path_params["entry_id"]
    path = console.entry_path(entry_id)
    try:
        text, fields = console.read_entry(path)
    except EditError as exc:
        return _unreadable(request, console, path, exc)
    entry, problems = console.check(text, path)
    # kb check's findings across files (a related id that does not exist, a duplicate)
    found = [replace(p, path=path.name) for p in console.snapshot().by_path.get(path.name, [])]
    cross = [p for p in found if p not in problems]
    return _entry_form(
        request,
        console,
        entry_id,
        fields,
        fingerprint(text),
        [*problems, *cross],
        previews(entry) if entry else [],
        entry,
        notice=request.query_params.get("notice", ""),
    )


def _entry_form(
    request: Request,
    console: Console,
    entry_id: str,
    fields: EntryFields,
    base: str,
    problems: list[Problem],
    shown: list[Preview],
    entry: Entry | None = None,
    status: int = 200,
    notice: str = "",
    conflict: dict[str, tuple[str, str]] | None = None,
) -> Response:
    path = console.entry_path(entry_id)
    if entry is None:
        entry = console.snapshot().kb.entries.get(entry_id)
    return console.render(
        request,
        "entry.html",
        status,
        entry_id=entry_id,
        fields=fields,
        base=base,
        problems=sorted(problems),
        previews=shown,
        entry=entry,
        notice=notice,
        conflict=conflict,
        changes=console.changes.recent(8, entry_id),
        short_limit=SHORT_LIMIT,
        new=path.name.startswith(NEW_PREFIX),
        can_add=path.name.startswith(NEW_PREFIX) and not errors(problems),
    )


@staff_only()
async def entry_check(request: Request) -> Response:
    """Validation and preview of the form as it is now (the page's script posts the
    form here as staff type); nothing is saved."""
    console = console_of(request)
    path = console.entry_path(request.path_params["entry_id"])
    form = await request.form()
    try:
        text, stored = console.read_entry(path)
    except EditError as exc:
        return _unreadable(request, console, path, exc)
    draft = await asyncio.to_thread(_draft, console, path, text, stored, form)
    return console.render(
        request, "_check.html", problems=sorted(draft.problems), previews=draft.previews
    )


@staff_only()
async def entry_save(request: Request) -> Response:
    console = console_of(request)
    entry_id = request.path_params["entry_id"]
    path = console.entry_path(entry_id)
    staff: Staff = request.scope["staff"]
    form = await request.form()
    with console.lock(path):
        try:
            current, theirs = console.read_entry(path)
        except EditError as exc:
            return _unreadable(request, console, path, exc)
        draft = _draft(console, path, current, theirs, form)
        if fingerprint(current) != form.get("base"):
            # Someone saved this file after the form was opened: never overwrite it.
            return _entry_form(
                request,
                console,
                entry_id,
                draft.fields,
                fingerprint(current),
                draft.problems,
                draft.previews,
                status=409,
                conflict=_differences(theirs, draft.fields),
            )
        if errors(draft.problems):
            return _entry_form(
                request,
                console,
                entry_id,
                draft.fields,
                str(form.get("base", "")),
                draft.problems,
                draft.previews,
                status=422,
            )
        if draft.text == current:
            return RedirectResponse(f"/entries/{entry_id}?notice=unchanged", status_code=303)
        new, was_reviewed = _STATUS_LINE.subn("status: draft", draft.text, count=1)
        write_atomic(path, new)
    changed = sorted(_differences(theirs, draft.fields))
    console.changes.record("save", entry_id, staff.role, staff.key, ", ".join(changed))
    notice = "saved-draft" if was_reviewed else "saved"
    return RedirectResponse(f"/entries/{entry_id}?notice={notice}", status_code=303)


def _shown(value: str | tuple[str, ...]) -> str:
    return "\n".join(value) if isinstance(value, tuple) else value


def _differences(theirs: EntryFields, mine: EntryFields) -> dict[str, tuple[str, str]]:
    """Field name -> (their value, my value) for every field that differs."""
    found: dict[str, tuple[str, str]] = {}
    for lang in sorted({*theirs.text, *mine.text}):
        a, b = theirs.text.get(lang), mine.text.get(lang)
        for name in ("title", "short", "answer", "questions", "not_about"):
            va, vb = _shown(getattr(a, name, "")), _shown(getattr(b, name, ""))
            if va.strip() != vb.strip():
                found[f"{lang}.{name}"] = (va, vb)
    for i in range(max(len(theirs.sources), len(mine.sources))):
        sa = theirs.sources[i] if i < len(theirs.sources) else SourceFields("", "", "")
        sb = mine.sources[i] if i < len(mine.sources) else SourceFields("", "", "")
        for name in ("title", "url", "supports"):
            if getattr(sa, name).strip() != getattr(sb, name).strip():
                found[f"source {i + 1} {name}"] = (getattr(sa, name), getattr(sb, name))
        for lang in sorted({*sa.titles, *sb.titles}):
            ta, tb = sa.titles.get(lang, ""), sb.titles.get(lang, "")
            if ta.strip() != tb.strip():
                found[f"source {i + 1} title ({lang})"] = (ta, tb)
    for name in ("as_of", "review_by"):
        if getattr(theirs, name) != getattr(mine, name):
            found[name] = (getattr(theirs, name), getattr(mine, name))
    return found


@staff_only("reviewer")
async def entry_review(request: Request) -> Response:
    """Mark reviewed, as `kb review`: the role, the source checked, the day, the next
    review. Refused when the entry changed after the reviewer opened it (they would
    certify text they have not read) and for a new entry not in the base yet."""
    console = console_of(request)
    entry_id = request.path_params["entry_id"]
    path = console.entry_path(entry_id)
    staff: Staff = request.scope["staff"]
    form = await request.form()
    by = " ".join(str(form.get("by", "")).split()).lower()
    source = str(form.get("source", "")).strip()

    def refuse(message: str, status: int = 422) -> Response:
        return console.message(
            request,
            status,
            title="Not marked reviewed",
            message=message,
            back=f"/entries/{entry_id}",
        )

    def day(name: str) -> dt.date | None:
        value = str(form.get(name, "")).strip()
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise EditError(f"'{value}' is not a date: write it as YYYY-MM-DD") from exc

    if path.name.startswith(NEW_PREFIX):
        return refuse("Add the new entry to the knowledge base first, then review it.")
    if not ROLE_PATTERN.match(by):
        return refuse(
            "Write your role (for example lawyer or consultant), not a name: entry files are "
            "public."
        )
    if not URL_PATTERN.match(source):
        return refuse("Give the web address (https://...) of the source you checked.")
    try:
        with console.lock(path):
            if fingerprint(read_text(path)) != form.get("base"):
                return refuse(
                    "The entry changed after you opened it. Reload the page, read the new "
                    "text, then mark it reviewed.",
                    409,
                )
            done = mark_reviewed(
                path,
                by=by,
                source=source,
                on=day("on"),
                review_by=day("next"),
                today=console.today(),
            )
    except MigrantBotError as exc:
        return refuse(str(exc).replace(str(path), path.name))
    console.changes.record(
        "review",
        entry_id,
        staff.role,
        staff.key,
        f"by {done.by} on {done.on}, next {done.review_by}",
    )
    return RedirectResponse(f"/entries/{entry_id}?notice=reviewed", status_code=303)


@staff_only()
async def entry_add(request: Request) -> Response:
    """A new entry (`_ID.yaml`) joins the knowledge base (`ID.yaml`) once it has no
    errors; Publish then makes it live."""
    console = console_of(request)
    entry_id = request.path_params["entry_id"]
    path = console.entry_path(entry_id)
    staff: Staff = request.scope["staff"]
    target = console.kb_dir / f"{entry_id}.yaml"
    if not path.name.startswith(NEW_PREFIX):
        return RedirectResponse(f"/entries/{entry_id}", status_code=303)
    with console.lock(path):
        text = read_text(path)
        problems = errors(console.check(text, path)[1])
        if problems or target.exists():
            why = (
                f"{target.name} already exists: choose another id"
                if target.exists()
                else f"{len(problems)} error(s) to fix first; they are listed on the entry page"
            )
            return console.message(
                request,
                422,
                title="Not added",
                message=why,
                back=f"/entries/{entry_id}",
            )
        try:
            os.link(path, target)  # fails if the target appeared meanwhile: never overwrite
        except FileExistsError:
            return console.message(
                request,
                409,
                title="Not added",
                message=f"{target.name} was just created by someone else: choose another id",
                back=f"/entries/{entry_id}",
            )
        path.unlink()
    console.changes.record("new-entry", entry_id, staff.role, staff.key, "added to the base")
    return RedirectResponse(f"/entries/{entry_id}?notice=added", status_code=303)
