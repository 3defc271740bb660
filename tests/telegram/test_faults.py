"""Faults while the bot runs: the database goes away (questions and calculators still
work, reminders say they are unavailable, and work again when it is back), and a broken
knowledge edit is refused by reindex while the running bot keeps answering."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.i18n import gettext_for
from bot.knowledge.validation import InvalidKnowledgeBase
from bot.retrieval.index import current_version_name
from bot.telegram.callbacks import DeadlineCb

REPO = Path(__file__).resolve().parents[2]


def dl(action: str, value: str = "") -> str:
    return DeadlineCb(action=action, value=value).pack()


async def _patent_result(tg, user: int):
    [menu] = await tg.say(user, "/deadlines", "en")
    await tg.tap(dl("kind", "patent"), menu, user, "en")
    await tg.api.wait_for("sendMessage")
    [result] = await tg.say(user, "2026-12-20", "en")
    return result


@pytest.fixture
def rules(tg):
    shutil.copytree(REPO / "knowledge" / "rules", tg.settings.kb_dir / "rules")
    tg.dp["deadline_today"] = lambda: dt.date(2026, 12, 1)
    return tg


async def test_database_down_reminders_unavailable_calculator_still_works(rules):
    tg, user = rules, 6100
    await tg.storage.close()  # every storage call now raises StorageError
    result = await _patent_result(tg, user)
    en = gettext_for("en")
    # the calculator needs no database: the due date is there
    assert en("Pay the next month no later than {date}.").split("{")[0] in result.shown
    [remind] = result.buttons
    await tg.tap(remind["callback_data"], result, user, "en")
    [sorry] = await tg.api.wait_for("sendMessage")
    assert sorry.shown == en(
        "Sorry, reminders are temporarily unavailable. Please try again later."
    )

    await tg.storage.open()  # the database is back: the same flow stores the reminder
    result = await _patent_result(tg, user)
    [remind] = result.buttons
    await tg.tap(remind["callback_data"], result, user, "en")
    await tg.api.wait_for("sendMessage")
    [reminder] = await tg.storage.reminders(tg.key(user))
    assert reminder.kind == "patent"


async def test_invalid_knowledge_edit_is_refused_and_the_bot_keeps_answering(tg):
    from bot.retrieval.index import build_index

    serving = tg.assistant.version.name
    broken = tg.settings.kb_dir / "patent-payment.yaml"
    broken.write_text(broken.read_text(encoding="utf-8").replace("sources:", "sorces:"))
    with pytest.raises(InvalidKnowledgeBase):
        build_index(
            tg.settings.kb_dir,
            tg.settings.index_dir,
            tg.assistant.embedder,
            tg.settings.cache_path,
            tg.settings.kb_languages,
        )
    assert current_version_name(tg.settings.index_dir) == serving
    [reply] = await tg.say(6200, "how can i pay patent money", "en")
    assert "Paying for the work patent" in reply.shown
    assert tg.assistant.version.name == serving


async def test_a_locked_database_does_not_hold_up_answers(tg):
    """Another process holds the SQLite write lock (as a hung database would): counting
    the question waits up to the busy timeout (5 s), the reply must not."""
    import sqlite3
    import time

    locker = sqlite3.connect(tg.settings.sqlite_path, timeout=0, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        for user, question in (
            (5301, "how do i pay for the patent"),
            (5302, "как оплатить патент"),
        ):
            started = time.monotonic()
            [answer] = await tg.say(user, question, "en")
            assert time.monotonic() - started < 2.5, "the reply waited for the database"
            assert "patent" in answer.shown.lower() or "патент" in answer.shown.lower()
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    # once the lock is gone the database works again for what needs it
    [done] = await tg.say(5303, "/language", "en")
    assert done.buttons
