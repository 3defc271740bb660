"""Topic browser, /forget, staff commands: end to end through the stand-in."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3

import pytest

from bot.i18n import gettext_for
from bot.knowledge.validation import load_kb
from bot.retrieval.index import POINTER, current_version_name
from bot.telegram import keyboards
from bot.telegram.callbacks import EntryCb, TopicsCb, VoteCb
from tests.support.paths import FIXTURE_KB
from tests.telegram.tg_constants import STAFF_ID

KB = load_kb(FIXTURE_KB)
SINCE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def entry_buttons(call_or_markup) -> list[EntryCb]:
    buttons = call_or_markup.buttons
    return [EntryCb.unpack(b["callback_data"]) for b in buttons if b["callback_data"][:2] == "e:"]


def markup_buttons(markup: dict) -> list[dict]:
    return [b for row in markup.get("inline_keyboard", []) for b in row]


# ------------------------------------------------------------------ topics


async def test_topics_country_then_topic_then_answer(tg):
    [menu] = await tg.say(10, "/topics", "en")
    data = [b["callback_data"] for b in menu.buttons]
    assert data == [
        TopicsCb(country="ru").pack(),
        TopicsCb(country="kz").pack(),
        TopicsCb(country="any").pack(),  # the consulate: for either country
    ]
    await tg.tap(TopicsCb(country="ru").pack(), menu, 10, "en")
    [edit] = await tg.api.wait_for("editMessageText")
    listed = entry_buttons(edit)
    ru_entries = sorted(
        (e for e in KB if e.country == "ru"), key=lambda e: e.text["en"].title.lower()
    )
    assert [b.id for b in listed] == [e.id for e in ru_entries]
    await tg.tap(listed[0].pack(), tg.api.message_of(menu), 10, "en")
    [answer] = await tg.api.wait_for("sendMessage")
    assert ru_entries[0].text["en"].title in answer.shown
    votes = [b["callback_data"] for b in answer.buttons if b["callback_data"].startswith("v:")]
    assert {VoteCb.unpack(d).id for d in votes} == {ru_entries[0].id}


async def test_topics_are_paginated(tg, monkeypatch):
    monkeypatch.setattr(keyboards, "TOPICS_PER_PAGE", 1)
    [menu] = await tg.say(11, "/topics", "en")
    await tg.tap(TopicsCb(country="ru", page=0).pack(), menu, 11, "en")
    [first] = await tg.api.wait_for("editMessageText")
    data = [b["callback_data"] for b in first.buttons]
    assert len(entry_buttons(first)) == 1
    assert TopicsCb(country="ru", page=1).pack() in data
    assert TopicsCb(country="ru", page=-1).pack() not in data
    await tg.tap(TopicsCb(country="ru", page=1).pack(), menu, 11, "en")
    [second] = await tg.api.wait_for("editMessageText")
    assert entry_buttons(second) != entry_buttons(first)
    data = [b["callback_data"] for b in second.buttons]
    assert TopicsCb(country="ru", page=0).pack() in data  # back
    assert TopicsCb(country="ru", page=2).pack() not in data  # last page


# ------------------------------------------------------------------ forget


def rows_for(path, key: str) -> dict[str, int]:
    """Rows per table that mention the user's key in any column."""
    db = sqlite3.connect(path)
    found = {}
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'"):
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        where = " OR ".join(f"CAST({c} AS TEXT) = ?" for c in cols)
        n = db.execute(f"SELECT COUNT(*) FROM {table} WHERE {where}", [key] * len(cols))
        count = n.fetchone()[0]
        if count:
            found[table] = count
    db.close()
    return found


async def test_forget_deletes_everything_after_confirmation(tg):
    user, key = 20, tg.key(20)
    [start] = await tg.say(user, "/start", "en")
    await tg.tap("lang:en", start, user, "en")
    await tg.api.wait_for("sendMessage")
    [answer] = await tg.say(user, "how do i pay for the patent", "en")
    await tg.tap(VoteCb(id="patent-payment", lang="en", up=0).pack(), answer, user, "en")
    await tg.api.wait_for("editMessageReplyMarkup")
    await tg.api.wait_for("sendMessage")  # the way on after 👎 (other words, topics)
    await tg.say(user, "what is the weather in paris", "en")
    today = dt.date.today()
    await tg.storage.add_reminder(key, user, "patent", today, today, "en")
    assert rows_for(tg.settings.sqlite_path, key)  # language, feedback, gap, reminder

    # cancelling deletes nothing
    [ask] = await tg.say(user, "/forget", "en")
    await tg.tap("forget:0", ask, user, "en")
    await tg.api.wait_for("editMessageText")
    assert await tg.storage.get_language(key) == "en"

    [ask] = await tg.say(user, "/forget", "en")
    assert {b["callback_data"] for b in ask.buttons} == {"forget:1", "forget:0"}
    await tg.tap("forget:1", ask, user, "en")
    [done] = await tg.api.wait_for("editMessageText")
    assert done.shown.startswith("✅")
    assert rows_for(tg.settings.sqlite_path, key) == {}
    assert await tg.storage.get_language(key) is None


# ------------------------------------------------------------------ staff


async def test_staff_commands_refused_for_others(tg):
    [unknown] = await tg.say(30, "/nonsense", "en")
    for command in ("/stats", "/gaps", "/reload", "/preview patent"):
        [reply] = await tg.say(30, command, "en")
        assert reply.shown == unknown.shown, command


async def test_stats_and_gaps(tg):
    await tg.say(31, "how do i pay for the patent", "en")
    await tg.say(32, "как оплатить патент", "ru")
    await tg.say(33, "<b>what</b> is the weather in paris? call 89991234567", "en")
    [stats] = await tg.say(STAFF_ID, "/stats", "en")
    assert "answer: 2" in stats.shown and "abstain: 1" in stats.shown
    assert "patent-payment: 2" in stats.shown
    assert "en: 2" in stats.shown and "ru: 1" in stats.shown
    [gaps] = await tg.say(STAFF_ID, "/gaps 7", "en")
    assert "_error" not in gaps.params
    assert "<b>what</b> is the weather in paris" in gaps.shown  # escaped, shown as typed
    assert "89991234567" not in gaps.shown  # anonymised
    [bad] = await tg.say(STAFF_ID, "/gaps lots", "en")
    assert "/gaps" in bad.shown


async def test_preview_shows_the_ranking(tg):
    [reply] = await tg.say(STAFF_ID, "/preview <i>how do i pay for the patent", "en")
    assert "_error" not in reply.params
    lines = reply.shown.splitlines()
    assert "<i>how do i pay for the patent" in lines[0]
    ranked = [line for line in lines if line[:2] in ("1.", "2.", "3.", "4.")]
    assert 3 <= len(ranked) <= len(KB)  # the entries FAISS found among its top rows
    assert "patent-payment" in ranked[0]
    scores = [float(line.split()[1]) for line in ranked]
    assert scores == sorted(scores, reverse=True)


async def test_reload_switches_or_keeps_the_old_version(tg):
    index_dir = tg.settings.index_dir
    old = current_version_name(index_dir)
    [same] = await tg.say(STAFF_ID, "/reload", "en")
    assert old in same.shown
    # a damaged new version is refused and the old one keeps answering
    broken = "20990101T000000-broken"
    shutil.copytree(index_dir / old, index_dir / broken)
    (index_dir / broken / "index.faiss").write_bytes(b"not a faiss index")
    (index_dir / POINTER).write_text(broken)
    [refused] = await tg.say(STAFF_ID, "/reload", "en")
    assert old in refused.shown and broken in refused.shown
    assert tg.assistant.version.name == old
    [answer] = await tg.say(34, "how do i pay for the patent", "en")
    assert KB["patent-payment"].text["en"].title in answer.shown
    # a good new version is switched to
    good = "20990101T000001-good"
    shutil.copytree(index_dir / old, index_dir / good)
    (index_dir / POINTER).write_text(good)
    [switched] = await tg.say(STAFF_ID, "/reload", "en")
    assert old in switched.shown and good in switched.shown
    assert tg.assistant.version.name == good


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_staff_replies_are_translated(tg, lang):
    [reply] = await tg.say(STAFF_ID, "/stats", lang)
    title = gettext_for(lang)("Statistics since {date}").split("{")[0].strip()
    assert reply.shown.startswith(title)


def test_the_topic_browser_offers_the_countries_people_come_from_too():
    # Entries about the services of Uzbekistan, Tajikistan or Kyrgyzstan (their
    # migration agencies) were reachable by a question only, never by /topics.
    from aiogram.utils.i18n import I18n

    from bot.i18n import LOCALES_DIR
    from bot.knowledge.validation import load_kb
    from bot.telegram import keyboards
    from bot.telegram.callbacks import TopicsCb
    from tests.support.paths import REPO

    kb = load_kb(REPO / "knowledge")
    i18n = I18n(path=LOCALES_DIR, default_locale="ru", domain="messages")
    with i18n.context(), i18n.use_locale("uz"):
        markup = keyboards.countries(kb)
    buttons = [b for row in markup.inline_keyboard for b in row]
    codes = [TopicsCb.unpack(b.callback_data).country for b in buttons if b.callback_data]
    assert set(codes) == {e.country for e in kb}  # every country an entry is about
    assert {"uz", "tj", "kg"} <= set(codes)
    assert any("🇺🇿" in b.text and "zbekiston" in b.text for b in buttons), [b.text for b in buttons]
