"""The questions the bot could not answer and the paraphrases consultants suggested,
turned into knowledge in one step."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.console.auth import Staff
from bot.console.context import GAP_GROUPS, NEW_PREFIX, Console
from bot.console.files import read_text, write_atomic
from bot.console.gaps import group_gaps
from bot.console.guards import console_of, staff_only
from bot.domain import ENTRY_COUNTRIES
from bot.errors import MigrantBotError
from bot.knowledge.editing import EditError, add_question, new_entry_text
from bot.knowledge.yamldoc import errors

log = logging.getLogger(__name__)


async def suggestions_of(console: Console) -> list:
    if console.storage is None:
        return []
    try:
        return await console.storage.suggestions(200)
    except MigrantBotError:
        log.warning("the database is unavailable: no /teach suggestions shown")
        return []


@staff_only()
async def gaps_page(request: Request) -> Response:
    console = console_of(request)
    snap = console.snapshot()
    rows, unavailable = [], console.storage is None
    if console.storage is not None:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=console.settings.gaps_retention_days)
        try:
            rows = await console.storage.gap_log(since)
        except MigrantBotError:
            unavailable = True

    def grouped() -> list:
        from bot.retrieval.language import detect_language
        from bot.retrieval.queries import query_variants, searched

        assistant = console.assistant()
        embedder = console.embedder()

        def topic(text: str, lang: str) -> str | None:
            # Cached per index version: the page is opened again after every action, and
            # one question costs about 21 ms (measured on the real index).
            if assistant is None:
                return None
            key = (text, lang, assistant.version.name)
            if key not in console.topics:
                if len(console.topics) > 50_000:
                    console.topics.clear()
                result = assistant.ask(text, lang)
                console.topics[key] = result.candidates[0].entry_id if result.candidates else None
            return console.topics[key]

        def embed(texts: list[str]):
            forms = [searched(query_variants(t, detect_language(t))) for t in texts]
            return embedder.embed_queries(forms)

        return group_gaps(rows, embed, topic)[:GAP_GROUPS]

    groups = await asyncio.to_thread(grouped) if rows else []
    weeks = sorted({w for g in groups for w in g.by_week})[-6:]
    return console.render(
        request,
        "gaps.html",
        groups=groups,
        weeks=weeks,
        kb=snap.kb,
        suggestions=await suggestions_of(console),
        unavailable=unavailable,
        notice=request.query_params.get("notice", ""),
        countries=ENTRY_COUNTRIES,
    )


@staff_only()
async def add_paraphrase(request: Request) -> Response:
    """A question from the gaps log or a /teach suggestion becomes a paraphrase of an
    entry in one step; the gap rows or the suggestion are then marked handled."""
    console = console_of(request)
    staff: Staff = request.scope["staff"]
    form = await request.form()
    entry_id = str(form.get("entry", ""))
    lang = str(form.get("lang", ""))
    question = " ".join(str(form.get("text", "")).split())
    if lang not in console.settings.kb_languages or not question or len(question) > 300:
        return console.message(
            request,
            422,
            title="Not added",
            back="/gaps",
            message="Choose an entry and a language, and give the question "
            "(at most 300 characters).",
        )
    path = console.entry_path(entry_id)
    with console.lock(path):
        current = read_text(path)
        try:
            new = add_question(current, lang, question)
        except EditError as exc:
            return console.message(request, 422, title="Not added", message=str(exc), back="/gaps")
        before = {p.message for p in errors(console.check(current, path)[1])}
        problems = [p for p in errors(console.check(new, path)[1]) if p.message not in before]
        if problems:
            return console.message(
                request,
                422,
                title="Not added",
                back="/gaps",
                message="; ".join(p.message for p in problems),
            )
        if new != current:
            write_atomic(path, new)
    source = str(form.get("from", "gap"))
    handled = await _mark_handled(console, form)
    console.changes.record(
        "paraphrase", entry_id, staff.role, staff.key, f"{lang}: {question[:80]} (from {source})"
    )
    notice = "added:" + entry_id if handled else "added-unmarked:" + entry_id
    return RedirectResponse(f"/gaps?notice={notice}", status_code=303)


@staff_only()
async def dismiss_suggestion(request: Request) -> Response:
    console = console_of(request)
    staff: Staff = request.scope["staff"]
    form = await request.form()
    try:
        suggestion = int(str(form.get("suggestion", "")))
    except ValueError:
        return console.message(
            request,
            422,
            title="Not dismissed",
            message="No suggestion given.",
            back="/gaps",
        )
    if not await _mark_handled(console, form):
        return RedirectResponse("/gaps?notice=unavailable", status_code=303)
    console.changes.record("suggestion", "", staff.role, staff.key, f"dismissed #{suggestion}")
    return RedirectResponse("/gaps?notice=dismissed", status_code=303)


async def _mark_handled(console: Console, form: FormData) -> bool:
    """The suggestion dismissed, or the gap rows of the questions deleted: staff made
    them knowledge. False when the database cannot be reached (they stay listed)."""
    if console.storage is None:
        return False
    try:
        if form.get("from") == "suggestion":
            await console.storage.dismiss_suggestion(int(str(form.get("suggestion", "0"))))
        else:
            for text_lang in form.getlist("gap"):
                text, _sep, gap_lang = str(text_lang).rpartition("\x1f")
                await console.storage.drop_gap(text, gap_lang)
    except (MigrantBotError, ValueError):
        log.warning("could not mark the gap or suggestion handled")
        return False
    return True


@staff_only()
async def new_entry(request: Request) -> Response:
    """An unanswered question starts a new entry: `_ID.yaml` with the question as its
    first paraphrase, outside the knowledge base until it passes kb check and is added
    from its page."""
    console = console_of(request)
    staff: Staff = request.scope["staff"]
    form = await request.form()
    entry_id = str(form.get("id", "")).strip().lower()
    question = " ".join(str(form.get("text", "")).split())
    taken = any(
        (console.kb_dir / name).exists()
        for name in (f"{entry_id}.yaml", f"{NEW_PREFIX}{entry_id}.yaml")
    )
    try:
        if taken:
            raise EditError(f"an entry '{entry_id}' exists already: choose another id")
        text = new_entry_text(
            entry_id,
            str(form.get("country", "")),
            str(form.get("lang", "")),
            question,
            console.today(),
        )
    except EditError as exc:
        return console.message(request, 422, title="Not started", message=str(exc), back="/gaps")
    path = console.kb_dir / f"{NEW_PREFIX}{entry_id}.yaml"
    with console.lock(path):
        if path.exists():
            return console.message(
                request,
                409,
                title="Not started",
                back="/gaps",
                message=f"an entry '{entry_id}' was just started by someone else",
            )
        write_atomic(path, text)
    await _mark_handled(console, form)
    console.changes.record("new-entry", entry_id, staff.role, staff.key, question[:80])
    return RedirectResponse(f"/entries/{entry_id}?notice=started", status_code=303)


@staff_only()
async def dismiss_gap(request: Request) -> Response:
    """A group of questions staff decided needs no entry (out of scope, spam): its rows
    are deleted from the gaps log."""
    console = console_of(request)
    staff: Staff = request.scope["staff"]
    form = await request.form()
    if not await _mark_handled(console, form):
        return RedirectResponse("/gaps?notice=unavailable", status_code=303)
    console.changes.record(
        "gap", "", staff.role, staff.key, f"dismissed {len(form.getlist('gap'))} question(s)"
    )
    return RedirectResponse("/gaps?notice=dismissed", status_code=303)
