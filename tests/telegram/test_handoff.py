"""A route to a person, end to end: the real dispatcher polling the Bot API stand-in,
a staff group (with and without forum topics), real SQLite. Covers consent, relay both
ways, close and rating, /answer, /teach, a user who blocked the bot, a missing staff
chat, /forget, limits, and that nothing sent to the staff chat names the user."""

from __future__ import annotations

import logging

import pytest

from bot.i18n import gettext_for
from bot.telegram.callbacks import HumanCb, VoteCb
from tests.support.standin import BotAPIStandIn, Call
from tests.telegram.conftest import running_bot
from tests.telegram.tg_constants import CONTACT, OPERATOR, STAFF_CHAT

ABSTAIN = "my employer took my passport and does not give it back, what do i do"
STAFF = BotAPIStandIn.user(777_001, "en")


@pytest.fixture
def desk_settings(bot_settings):
    return bot_settings.model_copy(
        update={
            "staff_chat_id": STAFF_CHAT,
            "staff_language": "en",
            "handoff_hours": "",
            "handoff_reply_hours": 24,
        }
    )


@pytest.fixture
async def desk(desk_settings, embedder):
    async with running_bot(desk_settings, embedder, lambda api: api.add_group(STAFF_CHAT)) as h:
        yield h


@pytest.fixture
async def forum(desk_settings, embedder):
    prepare = lambda api: api.add_group(STAFF_CHAT, forum=True)  # noqa: E731
    async with running_bot(desk_settings, embedder, prepare) as h:
        yield h


def human(call: Call, action: str) -> str:
    """The callback data of the handoff button `action` under the bot's message."""
    for button in call.buttons:
        data = button.get("callback_data", "")
        if data.startswith("h:") and HumanCb.unpack(data).action == action:
            return data
    raise AssertionError(f"no {action!r} button in {[b['text'] for b in call.buttons]}")


def to_staff(api: BotAPIStandIn, since: int = 0) -> list[Call]:
    return [c for c in api.calls[since:] if c.method == "sendMessage"
            and int(c.params["chat_id"]) == STAFF_CHAT]  # fmt: skip


async def open_a_case(h, user: int, text: str, lang: str = "en") -> tuple[Call, Call]:
    """/human, ✅, the question: returns (the user's confirmation, the staff post)."""
    [consent] = await h.say(user, "/human", lang)
    assert any(b["text"].startswith("✅") for b in consent.buttons)
    await h.tap(human(consent, "go"), consent, user, lang)
    await h.api.wait_for("sendMessage")
    mark = h.api.mark()
    await h.api.send_text(user, text, lang)
    await h.api.wait_for("sendMessage", count=2, since=mark)
    [post] = to_staff(h.api, mark)
    [confirmation] = [
        c for c in h.api.since("sendMessage", mark) if int(c.params["chat_id"]) == user
    ]
    return confirmation, post


async def staff_says(h, text: str, reply_to=None, thread_id=None, count: int = 1) -> list[Call]:
    mark = h.api.mark()
    await h.api.group_message(STAFF, STAFF_CHAT, text, reply_to=reply_to, thread_id=thread_id)
    return await h.api.wait_for("sendMessage", count=count, since=mark)


async def test_a_case_from_consent_to_rating_both_sides(desk):
    user = 4101
    [consent] = await desk.say(user, "/human", "en")
    assert OPERATOR in consent.shown and "24 hours" in consent.shown
    assert "passport numbers" in consent.shown  # what not to send
    assert [b["text"][0] for b in consent.buttons] == ["✅", "✖"]

    confirmation, post = await open_a_case(
        desk, user, "Employer keeps my passport, +7 916 123 45 67"
    )
    assert "case #1" in confirmation.shown.lower()
    assert "next messages" in confirmation.shown
    assert human(confirmation, "back") and human(confirmation, "close")
    assert "Case #1" in post.shown and "Employer keeps my passport" in post.shown
    assert "123 45 67" not in post.shown and "<phone>" in post.shown  # masked for staff

    # the consultant replies to the case message
    sent = await staff_says(
        desk, "Go to the police with a written statement.", reply_to=post, count=2
    )
    [relayed] = [c for c in sent if int(c.params["chat_id"]) == user]
    assert relayed.shown.startswith(f"💬 Reply from the consultant of {OPERATOR}:")
    assert "written statement" in relayed.shown
    [ack] = [c for c in sent if int(c.params["chat_id"]) == STAFF_CHAT]
    assert "Sent to the user" in ack.shown

    # the user writes again: it goes under the case, not to the assistant
    mark = desk.api.mark()
    await desk.api.send_text(user, "Thank you, and what if police refuse?", "en")
    await desk.api.wait_for("sendMessage", count=2, since=mark)
    [follow_up] = to_staff(desk.api, mark)
    assert "police refuse" in follow_up.shown
    assert (
        follow_up.params["reply_parameters"]["message_id"] == post.params["_result"]["message_id"]
    )

    # a reply to the follow-up reaches the user too
    sent = await staff_says(desk, "Then write to the prosecutor.", reply_to=follow_up, count=2)
    assert any("prosecutor" in c.shown and int(c.params["chat_id"]) == user for c in sent)

    # staff close the case; the user is told and can rate
    sent = await staff_says(desk, "/close", reply_to=post, count=2)
    [closed] = [c for c in sent if int(c.params["chat_id"]) == user]
    assert "closed case #1" in closed.shown
    mark = desk.api.mark()
    await desk.tap(human(closed, "rate"), closed, user, "en")  # the first is 👍
    sent = await desk.api.wait_for("sendMessage", count=2, since=mark)
    [rated] = [c for c in sent if int(c.params["chat_id"]) == STAFF_CHAT]
    assert "rated the help 👍" in rated.shown
    case = await desk.storage.case_of(desk.key(user), 1)
    assert case.status == "closed" and case.closed_by == "staff" and case.rating == 1

    # after closing, the user's messages go to the assistant again
    [answer] = await desk.say(user, "how do i pay for the patent", "en")
    assert "Reply from" not in answer.shown and not to_staff(desk.api, desk.api.mark() - 1)


async def test_forum_group_gets_one_topic_per_case_and_staff_write_in_it(forum):
    user = 4102
    _confirmation, post = await open_a_case(forum, user, "wages not paid for two months")
    [topic] = forum.api.topics[STAFF_CHAT]
    assert topic["name"].startswith("Case #1")
    assert post.params["message_thread_id"] == topic["message_thread_id"]
    sent = await staff_says(
        forum, "Keep your contract; we will call.", thread_id=topic["message_thread_id"], count=2
    )
    assert any("Keep your contract" in c.shown and int(c.params["chat_id"]) == user for c in sent)
    # a second user gets a second topic
    await open_a_case(forum, 4103, "court decision about expulsion")
    assert len(forum.api.topics[STAFF_CHAT]) == 2


async def test_answer_sends_a_topic_in_the_users_language_and_teach_records_a_suggestion(desk):
    user = 4104
    _c, post = await open_a_case(desk, user, "патентро чӣ тавр пардохт кунам, кор намекунад", "tg")
    sent = await staff_says(desk, "/answer patent-payment", reply_to=post, count=2)
    [to_user] = [c for c in sent if int(c.params["chat_id"]) == user]
    tajik_title = desk.assistant.version.kb["patent-payment"].text["tg"].title
    assert tajik_title in to_user.shown
    assert any(b["callback_data"].startswith("m:") for b in to_user.buttons)  # More
    assert [VoteCb.unpack(b["callback_data"]).up for b in to_user.buttons
            if b["callback_data"].startswith("v:")] == [1, 0]  # fmt: skip

    [note] = await staff_says(desk, "/teach patent-payment", reply_to=post)
    assert "suggested as a paraphrase" in note.shown
    [suggestion] = await desk.storage.suggestions()
    assert (suggestion.entry_id, suggestion.lang) == ("patent-payment", "tg")
    assert "пардохт" in suggestion.text

    [refused] = await staff_says(desk, "/answer no-such-topic", reply_to=post)
    assert "No topic no-such-topic" in refused.shown
    [outside] = await staff_says(desk, "/close")  # not a reply to a case
    assert "Reply to a case message" in outside.shown


async def test_a_user_who_blocked_the_bot_closes_the_case_and_staff_are_told(desk):
    user = 4105
    _c, post = await open_a_case(desk, user, "registration problem")
    desk.api.blocked.add(user)
    sent = await staff_says(desk, "Please come on Monday.", reply_to=post, count=2)
    assert "_error" not in sent[0].params and int(sent[0].params["chat_id"]) == user  # 403
    [note] = [c for c in sent if int(c.params["chat_id"]) == STAFF_CHAT]
    assert "blocked the bot" in note.shown and "#1" in note.shown
    case = await desk.storage.case_of(desk.key(user), 1)
    assert case.status == "closed" and case.closed_by == "blocked"
    [late] = await staff_says(desk, "Hello?", reply_to=post)
    assert "is closed; the message was not sent" in late.shown


async def test_a_missing_staff_chat_tells_the_user_whom_to_ask_and_logs_once(desk, caplog):
    desk.api.kicked.add(STAFF_CHAT)
    caplog.set_level(logging.WARNING, logger="bot.telegram.desk")
    for user in (4106, 4107):
        [consent] = await desk.say(user, "/human", "en")
        await desk.tap(human(consent, "go"), consent, user, "en")
        await desk.api.wait_for("sendMessage")
        [sorry] = await desk.say(user, "my patent was cancelled, what now", "en")
        assert "cannot be reached" in sorry.shown and CONTACT in sorry.shown
        assert await desk.storage.open_case_of(desk.key(user)) is None  # nothing left open
    lines = [r for r in caplog.records if "STAFF_CHAT_ID" in r.getMessage()]
    assert len(lines) == 1
    assert all(str(u) not in r.getMessage() for r in caplog.records for u in (4106, 4107))


async def test_forget_withdraws_the_case_and_staff_learn_nothing_about_who(desk):
    user = 4108
    _c, post = await open_a_case(desk, user, "question about my stay")
    [confirm] = await desk.say(user, "/forget", "en")
    mark = desk.api.mark()
    await desk.tap("forget:1", confirm, user, "en")
    await desk.api.wait_for("editMessageText", since=mark)
    [note] = to_staff(desk.api, mark)
    assert "withdrawn" in note.shown and "#1" in note.shown
    assert await desk.storage.case_of(desk.key(user), 1) is None
    [late] = await staff_says(desk, "Are you there?", reply_to=post)
    assert "Reply to a case message" not in late.shown  # the case is gone: nothing relayed
    assert not [c for c in desk.api.since("sendMessage") if int(c.params["chat_id"]) == user]


async def test_nothing_sent_to_the_staff_chat_names_the_user(desk):
    users = [4109, 4110]
    for user in users:
        _c, post = await open_a_case(desk, user, "question from a person with a name")
        await desk.api.send_text(user, "one more detail", "en")
        await desk.api.wait_for("sendMessage", count=2)
        await staff_says(desk, "/close", reply_to=post, count=2)
    staff_calls = [c for c in desk.api.calls if int(c.params.get("chat_id", 0) or 0) == STAFF_CHAT]
    assert len(staff_calls) >= 1 + 3 * len(users)  # getChat, then post, detail, close
    for call in staff_calls:
        text = str(call.params)
        for user in users:
            profile = BotAPIStandIn.user(user)
            for value in (
                str(user),
                profile["first_name"],
                profile["last_name"],
                profile["username"],
            ):
                assert value not in text, (value, call.method, call.text)


async def test_ask_a_person_is_offered_on_refusals_downvotes_and_help_and_sends_the_last_question(
    desk,
):
    user = 4111
    [refusal] = await desk.say(user, ABSTAIN, "en")
    await desk.tap(human(refusal, "ask"), refusal, user, "en")
    [consent] = await desk.api.wait_for("sendMessage")
    await desk.tap(human(consent, "go"), consent, user, "en")
    [prompt] = await desk.api.wait_for("sendMessage")
    assert "my employer took my passport" in prompt.shown
    mark = desk.api.mark()
    await desk.tap(human(prompt, "send"), prompt, user, "en")
    await desk.api.wait_for("sendMessage", count=2, since=mark)
    [post] = to_staff(desk.api, mark)
    assert "my employer took my passport" in post.shown
    assert "Case #1" in post.shown

    [helped] = await desk.say(4112, "/help", "en")
    assert human(helped, "ask")
    [answer] = await desk.say(4112, "how do i pay for the patent", "en")
    down = [b["callback_data"] for b in answer.buttons if b["callback_data"].startswith("v:")][1]
    await desk.tap(down, answer, 4112, "en")
    [after] = await desk.api.wait_for("sendMessage")
    assert human(after, "ask")


async def test_back_to_the_assistant_keeps_the_case_open_for_replies(desk):
    user = 4113
    confirmation, post = await open_a_case(desk, user, "question about a fine")
    await desk.tap(human(confirmation, "back"), confirmation, user, "en")
    [back] = await desk.api.wait_for("sendMessage")
    assert "stays open" in back.shown and human(back, "resume")
    mark = desk.api.mark()
    [answer] = await desk.say(user, "how do i pay for the patent", "en")
    assert not to_staff(desk.api, mark)  # answered by the assistant
    sent = await staff_says(desk, "About your fine: pay within 60 days.", reply_to=post, count=2)
    assert any("60 days" in c.shown and int(c.params["chat_id"]) == user for c in sent)
    # the user closes the case and rates it
    await desk.tap(human(back, "close"), back, user, "en")
    await desk.api.wait_for("sendMessage", count=2)
    case = await desk.storage.case_of(desk.key(user), 1)
    assert case.status == "closed" and case.closed_by == "user"


async def test_limits_one_open_case_and_messages_per_case(desk_settings, embedder):
    settings = desk_settings.model_copy(update={"case_message_rate": 2})
    async with running_bot(settings, embedder, lambda api: api.add_group(STAFF_CHAT)) as h:
        user = 4114
        await open_a_case(h, user, "first question")
        [again] = await h.say(user, "/human", "en")
        assert "is open" in again.shown  # one open case: its buttons, no new consent
        assert human(again, "close")
        mark = h.api.mark()
        await h.api.send_text(user, "second message", "en")
        await h.api.wait_for("sendMessage", count=2, since=mark)
        [too_many] = await h.say(user, "third message", "en")
        assert "Too many messages" in too_many.shown
        assert len(to_staff(h.api, mark)) == 1


async def test_without_a_staff_chat_there_is_no_button_and_human_names_the_contact(tg):
    [refusal] = await tg.say(4115, ABSTAIN, "en")
    assert not any(b["callback_data"].startswith("h:") for b in refusal.buttons)
    [reply] = await tg.say(4115, "/human", "ru")
    _ = gettext_for("ru")
    assert CONTACT in reply.shown
    assert _("Writing to a person is not possible in this bot yet.") in reply.shown


async def test_a_reply_to_a_bot_note_is_not_taken_for_a_question(desk):
    user = 4116
    _c, post = await open_a_case(desk, user, "question about registration")
    sent = await staff_says(desk, "Where do you live?", reply_to=post, count=2)
    [ack] = [c for c in sent if int(c.params["chat_id"]) == STAFF_CHAT]
    mark = desk.api.mark()
    [hint] = await staff_says(desk, "and when did you arrive?", reply_to=ack)
    assert "reply to the case message itself" in hint.shown
    assert not [c for c in desk.api.since("sendMessage", mark) if int(c.params["chat_id"]) == user]


async def test_stats_in_the_staff_chat_count_cases_and_the_first_reply(desk):
    _c, post = await open_a_case(desk, 4117, "question one", "ky")
    await open_a_case(desk, 4118, "question two", "uz")
    await staff_says(desk, "An answer.", reply_to=post, count=2)
    [stats] = await staff_says(desk, "/stats")
    assert "Cases with a consultant" in stats.shown
    assert "Open now: 2; opened in the period: 2" in stats.shown
    assert "Median time to the first reply: 0 h 00 min" in stats.shown
    assert "ky: 1" in stats.shown and "uz: 1" in stats.shown
