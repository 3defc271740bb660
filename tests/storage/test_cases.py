"""Cases with a consultant, against real SQLite and real PostgreSQL: one open case per
user, redelivered messages recorded once, closing exactly once, masking, statistics,
retention and /forget."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from tests.support.storage_backends import Clock

NOW = dt.datetime(2026, 3, 10, 12, 30, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
USER, CHAT = "k" * 32, 555_000_111
STAFF_CHAT = -100_777


async def test_one_open_case_per_user_and_its_first_message_is_masked(backend):
    storage = await backend.open(clock=Clock(NOW))
    case, created = await storage.open_case(
        USER, CHAT, "uz", True, "pasportim AA1234567 ish beruvchida, tel +998 90 123 45 67", 10
    )
    assert created and case.status == "open" and case.relaying and case.cyrillic
    assert "1234567" not in case.question and "123 45 67" not in case.question
    again, created_again = await storage.open_case(USER, CHAT, "uz", False, "boshqa savol", 11)
    assert not created_again and again.id == case.id
    other, created_other = await storage.open_case("other-user", 1, "ru", False, "вопрос", 12)
    assert created_other and other.id != case.id
    assert (await storage.open_case_of(USER)).id == case.id
    assert await storage.case_of("other-user", case.id) is None  # not theirs


async def test_concurrent_opens_by_one_user_make_one_case(backend):
    storage = await backend.open()
    results = await asyncio.gather(
        *(storage.open_case(USER, CHAT, "ru", False, f"вопрос {i}", 100 + i) for i in range(6))
    )
    assert len({case.id for case, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_staff_messages_map_to_their_case_and_redeliveries_are_recorded_once(backend):
    storage = await backend.open(clock=Clock(NOW))
    case, _ = await storage.open_case(USER, CHAT, "ru", False, "вопрос", 10)
    await storage.attach_post(case.id, STAFF_CHAT, 500, None)
    assert (await storage.case_for_staff_message(STAFF_CHAT, 500)).id == case.id
    assert await storage.case_for_staff_message(STAFF_CHAT, 501) is None
    assert await storage.case_for_staff_message(-1, 500) is None  # another chat

    assert await storage.add_case_message(case.id, "user", CHAT, 11, "ещё")
    await storage.link_staff_message(case.id, 502)
    assert (await storage.case_for_staff_message(STAFF_CHAT, 502)).id == case.id

    assert await storage.add_case_message(case.id, "staff", STAFF_CHAT, 900, "ответ")
    assert not await storage.add_case_message(case.id, "staff", STAFF_CHAT, 900, "ответ")
    reloaded = await storage.case_of(USER, case.id)
    assert reloaded.first_reply_at == NOW


async def test_forum_topics_map_to_their_case(backend):
    storage = await backend.open()
    case, _ = await storage.open_case(USER, CHAT, "ky", False, "суроо", 10)
    await storage.attach_post(case.id, STAFF_CHAT, 500, 77)
    assert (await storage.case_for_thread(STAFF_CHAT, 77)).id == case.id
    assert await storage.case_for_thread(STAFF_CHAT, 78) is None


async def test_a_case_is_closed_once_and_rated_by_its_owner_only(backend):
    storage = await backend.open()
    case, _ = await storage.open_case(USER, CHAT, "tg", False, "савол", 10)
    assert not await storage.rate_case(USER, case.id, True)  # still open
    closes = await asyncio.gather(*(storage.close_case(case.id, "staff") for _ in range(4)))
    assert [c is not None for c in closes].count(True) == 1
    closed = next(c for c in closes if c is not None)
    assert closed.status == "closed" and closed.closed_by == "staff" and not closed.relaying
    assert not await storage.rate_case("someone-else", case.id, True)
    assert await storage.rate_case(USER, case.id, False)
    assert (await storage.case_of(USER, case.id)).rating == 0
    assert await storage.open_case_of(USER) is None
    new, created = await storage.open_case(USER, CHAT, "tg", False, "савол боз", 11)
    assert created and new.id != case.id
    with pytest.raises(ValueError):
        await storage.close_case(new.id, "nobody")


async def test_limits_count_messages_and_cases_in_a_window(backend):
    clock = Clock(NOW)
    storage = await backend.open(clock=clock)
    case, _ = await storage.open_case(USER, CHAT, "ru", False, "вопрос", 10)
    for i in range(3):
        await storage.add_case_message(case.id, "user", CHAT, 20 + i, f"сообщение {i}")
    assert await storage.case_messages_since(case.id, "user", NOW - HOUR) == 4
    assert await storage.case_messages_since(case.id, "staff", NOW - HOUR) == 0
    assert await storage.case_messages_since(case.id, "user", NOW + HOUR) == 0
    assert await storage.cases_opened_since(USER, NOW - HOUR) == 1
    assert await storage.cases_opened_since(USER, NOW + HOUR) == 0


async def test_stats_give_open_cases_median_first_reply_and_languages(backend):
    clock = Clock(NOW)
    storage = await backend.open(clock=clock)
    waits = {"a": 1, "b": 3, "c": None}
    for n, (user, wait) in enumerate(waits.items()):
        clock.now = NOW
        case, _ = await storage.open_case(user, n + 1, "uz" if user != "c" else "ru", False, "q", n)
        if wait is not None:
            clock.now = NOW + wait * HOUR
            await storage.add_case_message(case.id, "staff", STAFF_CHAT, 100 + n, "a")
    stats = await storage.case_stats(NOW - HOUR)
    assert stats.open == 3 and stats.opened == 3
    assert stats.by_lang == {"uz": 2, "ru": 1}
    assert stats.first_reply_median == 2 * HOUR


async def test_retention_deletes_cases_by_their_last_message(backend):
    clock = Clock(NOW)
    storage = await backend.open(clock=clock)
    old, _ = await storage.open_case("old", 1, "ru", False, "старый", 1)
    clock.now = NOW + 10 * HOUR
    recent, _ = await storage.open_case("new", 2, "ru", False, "новый", 2)
    assert await storage.purge_cases(NOW + HOUR) == 1
    assert await storage.case_of("old", old.id) is None
    assert await storage.case_of("new", recent.id) is not None
    tables = await backend.tables()
    assert all("старый" not in str(row) for row in tables["case_messages"])


async def test_suggestions_are_listed_masked_and_dismissed(backend):
    storage = await backend.open()
    first = await storage.add_suggestion("ru-patent", "tg", "патент нарх чанд? +992 93 123 4567")
    await storage.add_suggestion("kz-stay-limit", "uz", "qancha tura olaman")
    listed = await storage.suggestions()
    assert [s.entry_id for s in listed] == ["ru-patent", "kz-stay-limit"]
    assert "4567" not in listed[0].text and "<phone>" in listed[0].text
    assert await storage.dismiss_suggestion(first)
    assert not await storage.dismiss_suggestion(first)
    assert [s.entry_id for s in await storage.suggestions()] == ["kz-stay-limit"]


async def test_forget_deletes_the_users_cases_and_messages_only(backend):
    storage = await backend.open()
    mine, _ = await storage.open_case(USER, CHAT, "ru", False, "мой вопрос", 10)
    await storage.add_case_message(mine.id, "staff", STAFF_CHAT, 900, "ответ консультанта")
    theirs, _ = await storage.open_case("keep", 1, "ru", False, "чужой вопрос", 11)
    assert await storage.forget(USER, CHAT) >= 3  # the case and its two messages
    tables = await backend.tables()
    for table in ("cases", "case_messages"):
        for row in tables[table]:
            assert USER not in row and CHAT not in row and "мой вопрос" not in row, (table, row)
    assert await storage.open_case_of("keep") == theirs


async def test_the_gap_log_row_by_row_and_dropping_handled_questions(backend):
    """What the staff console reads (gaps per language and week) and deletes once a
    question became a paraphrase; the other questions stay."""
    storage = await backend.open()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    await storage.log_gap("u1", "патент через приложение", "ru", "abstain")
    await storage.log_gap("u2", "патент через приложение", "ru", "downvote")
    await storage.log_gap("u3", "патент через приложение", "tg", "abstain")
    await storage.log_gap("u4", "шенгенская виза", "ru", "abstain")
    rows = await storage.gap_log(since)
    assert len(rows) == 4 and all(r.count == 1 for r in rows)
    assert {(r.text, r.lang, r.reason) for r in rows} >= {
        ("патент через приложение", "ru", "downvote"),
        ("патент через приложение", "tg", "abstain"),
    }
    assert rows[0].last_seen >= rows[-1].last_seen  # the newest first
    assert await storage.drop_gap("патент через приложение", "ru") == 2
    left = {(r.text, r.lang) for r in await storage.gap_log(since)}
    assert left == {("патент через приложение", "tg"), ("шенгенская виза", "ru")}
    assert await storage.gap_log(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)) == []
