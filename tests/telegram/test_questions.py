"""Free-text questions end to end: an answer in each language with its source and date,
clarify by button, abstain, feedback, hostile input, storage outages."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from bot.i18n import format_day, gettext_for
from bot.knowledge.validation import load_kb
from bot.telegram.callbacks import EntryCb, VoteCb
from tests.support.paths import FIXTURE_KB
from tests.telegram.tg_constants import CONTACT, STAFF_ID

KB = load_kb(FIXTURE_KB)

# One question per language that the fixture knowledge base answers (checked with
# `migrant-bot ask`), and the entry it must answer with.
QUESTIONS = {
    "ru": ("как оплатить патент", "patent-payment"),
    "kk": ("қазақстанда визасыз неше күн тұруға болады", "kz-stay"),
    "uz": ("patentni qanday to'layman", "patent-payment"),
    "ky": ("казакстанда визасыз канча күн жашаса болот", "kz-stay"),
    "tg": ("патентро чӣ тавр пардохт кунам", "patent-payment"),
    "en": ("how many days can i stay in kazakhstan without a visa", "kz-stay"),
}
CLARIFY = "how long stay registration"  # close between kz-stay and registration-deadline
ABSTAIN = "what is the weather in paris"
SINCE = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def vote_buttons(call) -> list[VoteCb]:
    return [
        VoteCb.unpack(b["callback_data"]) for b in call.buttons if b["callback_data"][:2] == "v:"
    ]


@pytest.mark.parametrize("lang", list(QUESTIONS))
async def test_answer_in_each_language(tg, lang):
    question, entry_id = QUESTIONS[lang]
    entry = KB[entry_id]
    user = 100 + list(QUESTIONS).index(lang)
    # the user's Telegram is in Russian: the answer follows the question's language
    [reply] = await tg.say(user, question, "ru")
    assert reply.params["parse_mode"] == "HTML"
    assert entry.text[lang].title in reply.shown
    assert format_day(entry.as_of, lang) in reply.shown
    assert reply.links == [s.url for s in entry.sources]
    votes = vote_buttons(reply)
    assert [(v.id, v.lang, v.up) for v in votes] == [(entry_id, lang, 1), (entry_id, lang, 0)]
    stats = await tg.storage.stats(SINCE)
    assert stats.by_decision == {"answer": 1}
    assert stats.by_entry == {entry_id: 1}
    assert stats.by_lang == {lang: 1}


async def test_clarify_then_tap_shows_that_answer(tg):
    [reply] = await tg.say(200, CLARIFY, "en")
    choices = [EntryCb.unpack(b["callback_data"]) for b in reply.buttons]
    assert {c.id for c in choices} == {"kz-stay", "registration-deadline"}
    assert all(c.lang == "en" and c.via == "c" for c in choices)
    for c in choices:
        assert KB[c.id].text["en"].title in reply.shown
    pick = next(c for c in choices if c.id == "registration-deadline")
    await tg.tap(pick.pack(), reply, 200, "en")
    [answer] = await tg.api.wait_for("sendMessage")
    assert KB["registration-deadline"].text["en"].title in answer.shown
    assert [v.id for v in vote_buttons(answer)] == ["registration-deadline"] * 2


async def test_abstain_is_honest_and_offers_a_person_and_topics(tg):
    [reply] = await tg.say(300, ABSTAIN, "en")
    assert CONTACT in reply.shown
    assert not any(e.text["en"].title in reply.shown for e in KB)  # no answer given
    data = [b["callback_data"] for b in reply.buttons]
    suggested = [EntryCb.unpack(d) for d in data if d.startswith("e:")]
    assert 1 <= len(suggested) <= 3 and all(s.id in KB for s in suggested)
    assert "t::0" in data  # the topic browser
    [gap] = await tg.storage.gaps(SINCE)
    assert (gap.text, gap.reason, gap.lang) == (ABSTAIN, "abstain", "en")
    # tapping a suggestion shows that answer
    await tg.tap(suggested[0].pack(), reply, 300, "en")
    [answer] = await tg.api.wait_for("sendMessage")
    assert KB[suggested[0].id].text["en"].title in answer.shown


async def test_feedback_is_stored_anonymised(tg):
    [good] = await tg.say(400, "how many days can i stay in kazakhstan without a visa", "en")
    up, down = vote_buttons(good)
    await tg.tap(up.pack(), good, 400, "en")
    [edit] = await tg.api.wait_for("editMessageReplyMarkup")
    assert not edit.params.get("reply_markup")  # the buttons are gone after voting
    question = "как оплатить патент, звоните 89991234567"
    [bad] = await tg.say(401, question, "ru")
    _up, down = vote_buttons(bad)
    await tg.tap(down.pack(), bad, 401)
    await tg.api.wait_for("editMessageReplyMarkup")
    stats = await tg.storage.stats(SINCE)
    assert (stats.helpful, stats.unhelpful) == (1, 1)
    [gap] = await tg.storage.gaps(SINCE)
    assert gap.reason == "downvote"
    assert "патент" in gap.text
    assert not any(ch.isdigit() for ch in gap.text)
    # the database file does not hold the phone number
    db = sqlite3.connect(tg.settings.sqlite_path)
    dump = "\n".join(db.iterdump())
    assert "89991234567" not in dump and "1234567" not in dump


@pytest.mark.parametrize(
    "data",
    [
        "v:patent-payment:ru:7",  # vote out of range
        "v:no-such-entry:ru:1",
        "e:../../etc/passwd:ru:c",
        "e:patent-payment:xx:c",  # unsupported language
        "e:patent-payment:ru:zz",
        "t:mars:0",
        "t:ru:99999",
        "forget:5",
        "garbage",
        "v:" + "x" * 60,
    ],
)
async def test_forged_buttons_change_nothing(tg, data):
    [reply] = await tg.say(500, "как оплатить патент", "ru")
    before = await tg.storage.stats(SINCE)
    answered = await tg.tap(data, reply, 500)
    assert answered.params["callback_query_id"]
    await tg.api.settle(0.3)
    assert tg.api.since("sendMessage") == []
    assert [c for c in tg.api.since() if c.method.startswith("edit")] == []
    after = await tg.storage.stats(SINCE)
    assert after == before


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script> & <b>патент</b> как оплатить",
        "</b><a href='javascript:x'>оплата патента</a> &amp; &#0; &",
        "патент " * 2000,  # 14 000 characters
        "🙂🙂🙂",
        "\u202e\u200b" + "x" * 5000,
    ],
)
async def test_hostile_input_is_rendered_safely(tg, text):
    [reply] = await tg.say(600, text, "ru")
    assert "_error" not in reply.params  # the stand-in parsed the HTML and accepted it
    assert "<script>" not in reply.shown


async def test_question_answered_while_storage_is_down(tg):
    await tg.storage.close()  # every storage call now raises StorageError
    [reply] = await tg.say(700, "how many days can i stay in kazakhstan without a visa", "en")
    assert KB["kz-stay"].text["en"].title in reply.shown
    up, _down = vote_buttons(reply)
    answered = await tg.tap(up.pack(), reply, 700, "en")
    assert answered.params.get("text")  # a polite "cannot save right now"
    [forget] = await tg.say(700, "/forget", "en")
    await tg.tap("forget:1", forget, 700, "en")
    [sorry] = await tg.api.wait_for("sendMessage")
    assert "/forget" in sorry.shown
    [stats] = await tg.say(STAFF_ID, "/stats", "en")  # staff: storage-only feature
    assert stats.shown == gettext_for("en")("Statistics are temporarily unavailable (database).")
    await tg.storage.open()  # for the fixture's teardown


async def test_uzbek_cyrillic_question_gets_the_latin_answer(tg):
    [reply] = await tg.say(800, "патент учун тўлов қанча", "uz")
    assert KB["patent-payment"].text["uz"].title in reply.shown  # Latin script
    assert format_day(KB["patent-payment"].as_of, "uz") in reply.shown


async def test_logs_never_contain_the_raw_user_id(tg, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    user = 987654321
    [reply] = await tg.say(user, "how do i pay for the patent", "en")
    _up, down = vote_buttons(reply)
    await tg.tap(down.pack(), reply, user, "en")
    await tg.api.wait_for("editMessageReplyMarkup")
    await tg.say(user, "what is the weather in paris", "en")
    [ask] = await tg.say(user, "/forget", "en")
    await tg.tap("forget:1", ask, user, "en")
    await tg.api.wait_for("editMessageText")
    assert caplog.records  # something was logged
    assert str(user) not in caplog.text
