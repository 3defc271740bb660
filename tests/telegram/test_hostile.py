"""Hostile input through the real dispatcher: generated text (hypothesis), commands with
garbage arguments, oversized and forged callback data. Whatever arrives, the bot answers
with valid Telegram HTML (the stand-in refuses anything else with 400, which fails the
test), never shows a traceback, and changes no stored preference or reminder."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.standin import check_html
from tests.telegram.tg_constants import STAFF_ID

USER = 4100
TRACEBACK_MARKERS = ("Traceback", 'File "', "Error:", "Exception")


def protected_rows(db) -> dict[str, list[tuple]]:
    """Rows a hostile message must never change: preferences, reminders, votes."""
    with sqlite3.connect(db) as conn:
        return {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
            for table in ("languages", "reminders", "feedback")
        }


@pytest.fixture
async def seeded(tg):
    """A user with a stored language and a pending reminder, to watch for changes."""
    import datetime as dt

    key = tg.key(USER)
    await tg.storage.set_language(key, "kk")
    today = dt.date.today()
    await tg.storage.add_reminder(key, USER, "patent", today + dt.timedelta(days=30), today, "kk")
    return tg


def assert_clean(call) -> None:
    check_html(call.params.get("text", ""))
    shown = call.shown
    assert not any(marker in shown for marker in TRACEBACK_MARKERS), shown


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    text=st.one_of(
        st.text(min_size=1, max_size=200),
        st.text(alphabet="<>&\"'/;\\*_`[]()~|#\u200b\u202e\u0000 абвпатентqwe", min_size=1),
        st.builds(
            lambda w, n: w * n, st.sampled_from(["патент ", "<b>", "&", "🙂"]), st.integers(1, 1200)
        ),
    )
)
async def test_generated_text_gets_a_safe_reply_and_changes_nothing(seeded, text):
    tg = seeded
    db = tg.settings.sqlite_path
    before = protected_rows(db)
    mark = tg.api.mark()
    await tg.api.send_text(USER, text, "kk")
    if text.strip() or text.startswith("/"):
        calls = await tg.api.wait_for("sendMessage", since=mark, timeout=30)
    else:
        await tg.api.settle(0.3)
        calls = tg.api.since("sendMessage", since=mark)
    for call in calls:
        assert int(call.params["chat_id"]) == USER
        assert_clean(call)
    assert protected_rows(db) == before


@pytest.mark.parametrize(
    "command",
    [
        "/start garbage 'OR 1=1",
        "/language zz",
        "/language " + "x" * 3000,
        "/topics -1",
        "/forget now please",
        "/deadlines <b>x</b>",
        "/help@some_other_bot",
        "/unknown_command_" + "a" * 50,
        "/stats",  # not staff: behaves like an unknown command
        "/preview <script>",
        "/reload now",
    ],
)
async def test_commands_with_garbage_arguments(seeded, command):
    tg = seeded
    db = tg.settings.sqlite_path
    before = protected_rows(db)
    mark = tg.api.mark()
    await tg.api.send_text(USER, command, "kk")
    await tg.api.settle(1.0)
    for call in tg.api.since(since=mark):
        if call.method in ("sendMessage", "editMessageText"):
            assert_clean(call)
    assert protected_rows(db) == before


@pytest.mark.parametrize(
    "command",
    ["/stats abc", "/stats 99999999999999999999", "/gaps -5", "/gaps " + "9" * 400, "/preview"],
)
async def test_staff_commands_with_garbage_arguments(seeded, command):
    tg = seeded
    mark = tg.api.mark()
    await tg.api.send_text(STAFF_ID, command, "en")
    [reply] = await tg.api.wait_for("sendMessage", since=mark, timeout=30)
    assert_clean(reply)


@pytest.mark.parametrize(
    "data",
    [
        "x" * 64,  # the Bot API's maximum callback data length
        "rem:off:" + "9" * 50,
        "rem:off:-1",
        "lang:" + "k" * 59,
        "\u0000\u202e",
        "dl:remind:",
    ],
)
async def test_oversized_or_forged_callback_data(seeded, data):
    tg = seeded
    db = tg.settings.sqlite_path
    [menu] = await tg.say(USER, "/topics", "kk")
    before = protected_rows(db)
    answered = await tg.tap(data, menu, USER, "kk")
    assert answered.params["callback_query_id"]
    await tg.api.settle(0.3)
    for call in tg.api.since(since=0):
        if call.method == "sendMessage":
            assert_clean(call)
    assert protected_rows(db) == before


async def test_another_users_reminder_id_cannot_be_cancelled(seeded):
    tg = seeded
    db = tg.settings.sqlite_path
    [reminder] = await tg.storage.reminders(tg.key(USER))
    [menu] = await tg.say(USER + 1, "/topics", "ru")
    before = protected_rows(db)
    await tg.tap(f"rem:off:{reminder.id}", menu, USER + 1, "ru")
    await tg.api.settle(0.3)
    assert protected_rows(db) == before
    assert await tg.storage.reminders(tg.key(USER)) == [reminder]
