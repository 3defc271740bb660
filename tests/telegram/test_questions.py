"""Free-text questions end to end: an answer in each language with its source and date,
clarify by button, abstain, feedback, hostile input, storage outages."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3

import pytest
from aiogram.fsm.storage.base import StorageKey

from bot.domain import LANGUAGES
from bot.i18n import format_day, gettext_for
from bot.knowledge.validation import load_kb
from bot.telegram.callbacks import EntryCb, MoreCb, VoteCb
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


@pytest.mark.parametrize(("lang", "user"), [("ru", 150), ("uz", 151)])
async def test_more_sends_the_full_answer_and_the_button_goes(tg, lang, user):
    question, entry_id = QUESTIONS[lang]
    local = KB[entry_id].text[lang]
    [first] = await tg.say(user, question, lang)
    # the first message: the short answer and the localised source title, not the steps
    assert local.short.strip() in first.shown
    assert local.answer.strip() not in first.shown
    assert KB[entry_id].sources[0].titles[lang] in first.shown
    assert KB[entry_id].sources[0].title not in first.shown  # the staff's citation
    more = [
        MoreCb.unpack(b["callback_data"]) for b in first.buttons if b["callback_data"][:2] == "m:"
    ]
    assert [(m.id, m.lang) for m in more] == [(entry_id, lang)]
    await tg.tap(more[0].pack(), first, user, lang)
    [details] = await tg.api.wait_for("sendMessage")
    assert local.answer.strip().splitlines()[-1] in details.shown
    [edit] = await tg.api.wait_for("editMessageReplyMarkup")
    labels = [b["text"] for row in edit.params["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [
        "👍 " + gettext_for(lang)("Helpful"),
        "👎 " + gettext_for(lang)("Not helpful"),
    ]


async def test_clarify_then_tap_shows_that_answer(tg):
    [reply] = await tg.say(200, CLARIFY, "en")
    choices = [EntryCb.unpack(d) for d in _callbacks(reply) if d.startswith("e:")]
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


async def test_uzbek_cyrillic_question_gets_a_cyrillic_answer(tg):
    # Many Uzbek users read Cyrillic better: who writes in Cyrillic reads Cyrillic,
    # answer and buttons (the knowledge base keeps Uzbek in Latin letters).
    from bot.retrieval.transliterate import uz_latin_to_cyrillic

    [reply] = await tg.say(800, "патент учун тўлов қанча", "uz")
    title = KB["patent-payment"].text["uz"].title
    assert uz_latin_to_cyrillic(title) in reply.shown and title not in reply.shown
    assert "Ишлаш патенти" in reply.shown  # hand-checked: "Ishlash patenti"
    labels = [b["text"] for b in reply.buttons]
    assert uz_latin_to_cyrillic("👍 " + gettext_for("uz")("Helpful")) in labels
    # the same user writing in Latin reads Latin
    [latin] = await tg.say(800, "patent uchun to'lov qancha", "uz")
    assert title in latin.shown


@pytest.mark.parametrize(
    ("text", "chosen", "lang"),
    [
        ("иш берувчи ойлик бермаяпти", "ru", "uz"),  # Uzbek without Uzbek letters
        ("жұмыс беруші зарплату бермей жатыр", "ru", "kk"),  # Russian words in Kazakh
        ("patent", "uz", "uz"),  # one word any language may use: the chosen one
    ],
)
async def test_the_reply_is_in_the_users_own_language(tg, text, chosen, lang):
    from bot.retrieval.transliterate import uz_latin_to_cyrillic

    await tg.storage.set_language(tg.key(801), chosen)
    [reply] = await tg.say(801, text, "ru")
    own = {KB[e].text[lang].title for e in KB.entries} | {
        gettext_for(lang)("Perhaps one of these topics helps:")
    }
    if lang == "uz":
        own |= {uz_latin_to_cyrillic(t) for t in own}
    assert any(t in reply.shown for t in own), reply.shown


async def test_logs_never_contain_the_raw_user_id(tg, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    user = 987654321
    [reply] = await tg.say(user, "how do i pay for the patent", "en")
    _up, down = vote_buttons(reply)
    await tg.tap(down.pack(), reply, user, "en")
    await tg.api.wait_for("editMessageReplyMarkup")
    await tg.api.wait_for("sendMessage")  # the way on after 👎
    await tg.say(user, "what is the weather in paris", "en")
    [ask] = await tg.say(user, "/forget", "en")
    await tg.tap("forget:1", ask, user, "en")
    await tg.api.wait_for("editMessageText")
    assert caplog.records  # something was logged
    assert str(user) not in caplog.text


# ------------------------------------------------------------------ a way out everywhere


def _callbacks(reply) -> list[str]:
    return [b["callback_data"] for b in reply.buttons]


@pytest.mark.parametrize(("lang", "user"), [("en", 900), ("ru", 901)])
async def test_none_of_these_leads_to_whom_to_ask_and_all_topics(tg, lang, user):
    [clarify] = await tg.say(user, CLARIFY, lang)  # the question decides the reply language
    none = [d for d in _callbacks(clarify) if d.startswith("w:none:")]
    assert none == ["w:none:en"]
    labels = [b["text"] for b in clarify.buttons]
    assert "🤷 " + gettext_for("en")("None of these") in labels
    await tg.tap(none[0], clarify, user, lang)
    [refusal] = await tg.api.wait_for("sendMessage")
    assert CONTACT in refusal.shown  # HELP_CONTACT names a person
    assert "t::0" in _callbacks(refusal)  # all topics
    [gap] = await tg.storage.gaps(SINCE)
    assert (gap.text, gap.reason) == (CLARIFY, "abstain")


@pytest.mark.parametrize(("typed", "app_lang"), [("2", "en"), ("2.", "ru")])
async def test_a_typed_number_picks_the_topic_offered(tg, typed, app_lang):
    user = 902
    [clarify] = await tg.say(user, CLARIFY, app_lang)
    second = [EntryCb.unpack(d) for d in _callbacks(clarify) if d.startswith("e:")][1]
    [answer] = await tg.say(user, typed, app_lang)
    assert KB[second.id].text["en"].title in answer.shown
    assert [v.id for v in vote_buttons(answer)] == [second.id] * 2
    # the number is used once: typed again, it is a question like any other
    [again] = await tg.say(user, typed, app_lang)
    assert KB[second.id].text["en"].title not in again.shown


async def test_after_a_refusal_a_number_no_longer_picks_from_an_older_choice(tg):
    user = 906
    [clarify] = await tg.say(user, CLARIFY, "en")
    second = [EntryCb.unpack(d) for d in _callbacks(clarify) if d.startswith("e:")][1]
    await tg.say(user, ABSTAIN, "en")  # a new question, refused
    [reply] = await tg.say(user, "2", "en")
    assert KB[second.id].text["en"].title not in reply.shown


@pytest.mark.parametrize(("lang", "user"), [("ru", 904), ("kk", 905)])
async def test_a_downvote_offers_other_words_all_topics_and_whom_to_ask(tg, lang, user):
    question = {"ru": "как оплатить патент", "kk": "патентті қалай төлеймін"}[lang]
    [answer] = await tg.say(user, question, lang)
    _up, down = vote_buttons(answer)
    await tg.tap(down.pack(), answer, user, lang)
    [offer] = await tg.api.wait_for("sendMessage")
    _ = gettext_for(lang)
    english = "I am sorry this did not help. Try asking in other words, or choose below."
    assert _(english) != english and _(english) in offer.shown
    assert CONTACT in offer.shown
    assert "t::0" in _callbacks(offer)


class TestWithoutHelpContact:
    """HELP_CONTACT is empty by default: a refusal must still name someone to ask."""

    @pytest.fixture
    def bot_settings(self, bot_settings):
        return bot_settings.model_copy(update={"help_contact": ""})

    @pytest.mark.parametrize(
        ("lang", "question"), [("uz", "bugun ob-havo qanday"), ("en", ABSTAIN)]
    )
    async def test_without_help_contact_a_refusal_offers_the_consulate(self, tg, lang, question):
        [refusal] = await tg.say(903, question, lang)
        _ = gettext_for(lang)
        assert _("Please ask a consultant of the migrant resource centre or your consulate.") in (
            refusal.shown
        )
        [first, *_rest] = refusal.buttons
        assert first["text"] == "☎️ " + KB["consulate-help"].text[lang].title
        assert EntryCb.unpack(first["callback_data"]).id == "consulate-help"
        assert "t::0" in _callbacks(refusal)


@pytest.mark.parametrize(
    ("lang", "user", "text", "reply_lang"),
    [
        ("uz", 910, "Assalomu alaykum", "uz"),
        ("ru", 911, "рахмат", None),  # the reply language follows the detection
        ("en", 912, "thank you!", "en"),
        ("kk", 913, "Рақмет", None),
    ],
)
async def test_small_talk_gets_a_friendly_reply_and_is_not_a_gap(tg, lang, user, text, reply_lang):
    from bot.retrieval.render import render_smalltalk

    [reply] = await tg.say(user, text, lang)
    candidates = [reply_lang] if reply_lang else list(LANGUAGES)
    expected = {render_smalltalk(c, code) for c in ("greeting", "thanks") for code in candidates}
    assert reply.shown in expected
    assert "t::0" in [b["callback_data"] for b in reply.buttons]  # a next step
    assert not any(e.text["en"].title in reply.shown for e in KB)  # no random topics
    assert await tg.storage.gaps(SINCE) == []  # staff are not asked to answer "thanks"


class TestQuestionsTypedInPieces:
    """A question sent as several short messages within BURST_WINDOW is answered once,
    and the throttle counts it as one question."""

    @pytest.fixture
    def bot_settings(self, bot_settings):
        # a window well above the pieces' spacing, so a busy machine cannot split them
        return bot_settings.model_copy(update={"burst_window": 1.5, "throttle_rate": 2})

    @pytest.mark.parametrize(
        ("lang", "user", "pieces", "topic"),
        [
            ("uz", 920, ["patent", "qancha", "to'lanadi", "qanday"], "patent-payment"),
            ("ru", 921, ["сколько дней", "можно жить", "в казахстане", "без визы"], "kz-stay"),
        ],
    )
    async def test_pieces_are_joined_and_answered_once(self, tg, lang, user, pieces, topic):
        mark = tg.api.mark()
        for piece in pieces:
            await tg.api.send_text(user, piece, lang)
            await asyncio.sleep(0.05)
        [answer] = await tg.api.wait_for("sendMessage", since=mark, timeout=10)
        assert KB[topic].text[lang].title in answer.shown
        await tg.api.settle(2.0)
        assert len(tg.api.since("sendMessage", mark)) == 1  # no throttle warning, no echoes


@pytest.mark.parametrize(
    ("lang", "user", "first", "first_topic", "followup", "topic"),
    [
        (
            "ru",
            930,
            "сколько дней можно жить в казахстане",
            "kz-stay",
            "а для таджиков?",
            "kz-stay",
        ),
        ("uz", 931, "patentni qanday to'layman", "patent-payment", "qancha?", "patent-payment"),
    ],
)
async def test_a_follow_up_continues_the_previous_topic(
    tg, lang, user, first, first_topic, followup, topic
):
    [answer] = await tg.say(user, first, lang)
    assert KB[first_topic].text[lang].title in answer.shown
    [continued] = await tg.say(user, followup, lang)
    _ = gettext_for(lang)
    note = _("Continuing: {topic}")
    assert note != "Continuing: {topic}"  # translated
    assert note.format(topic=KB[first_topic].text[lang].title) in continued.shown
    assert KB[topic].text[lang].title in continued.shown
    # a question of its own starts afresh: no "continuing" line
    [fresh] = await tg.say(user, first, lang)
    assert note.split("{")[0] not in fresh.shown


async def test_a_cyrillic_uzbek_follow_up_is_answered_in_cyrillic(tg):
    # The follow-up is searched with the topic's title, which the knowledge base keeps
    # in Latin letters: the reply still follows the letters the user typed.
    from bot.retrieval.transliterate import uz_latin_to_cyrillic

    title = KB["patent-payment"].text["uz"].title
    [answer] = await tg.say(933, "патент пулини қандай тўлайман", "uz")
    assert uz_latin_to_cyrillic(title) in answer.shown
    [continued] = await tg.say(933, "қанча?", "uz")
    assert uz_latin_to_cyrillic(title) in continued.shown
    assert title not in continued.shown


@pytest.mark.parametrize(
    "offered",
    [5, {"ids": 5, "lang": "ru", "at": 1.0}, {"ids": ["kz-stay"], "lang": None, "at": "x"}],
)
async def test_a_follow_up_over_a_choice_state_it_cannot_read_is_still_answered(tg, offered):
    user = 934
    await tg.say(user, "сколько дней можно жить в казахстане", "ru")
    key = StorageKey(bot_id=tg.bot.id, chat_id=user, user_id=user)
    data = await tg.dp.fsm.storage.get_data(key=key)
    await tg.dp.fsm.storage.set_data(key=key, data={**data, "clarify": offered})
    [reply] = await tg.say(user, "а для таджиков?", "ru")
    assert KB["kz-stay"].text["ru"].title in reply.shown  # the answered topic continues


async def test_a_follow_up_after_the_window_is_a_question_of_its_own(tg):
    user = 932
    await tg.say(user, "сколько дней можно жить в казахстане", "ru")
    data = await tg.dp.fsm.storage.get_data(
        key=StorageKey(bot_id=tg.bot.id, chat_id=user, user_id=user)
    )
    data["topic"]["at"] -= tg.settings.followup_window + 1  # the answer was long ago
    await tg.dp.fsm.storage.set_data(
        key=StorageKey(bot_id=tg.bot.id, chat_id=user, user_id=user), data=data
    )
    [reply] = await tg.say(user, "а для таджиков?", "ru")
    assert gettext_for("ru")("Continuing: {topic}").split("{")[0] not in reply.shown


async def test_a_cyrillic_uzbek_refusal_keeps_the_configured_contact_as_written(tg):
    [reply] = await tg.say(802, "иш берувчи ойлик бермаяпти", "ru")
    assert CONTACT in reply.shown  # "the help desk ..." is not transliterated
    assert "Инсон" in reply.shown  # the rest is Cyrillic Uzbek ("Inson bilan bog'lanish")


class TestAWholeQuestionNeverWaits:
    """Only short pieces are held: with a long window, a whole question (or a piece
    followed by one that ends with a question mark) is answered well within it."""

    @pytest.fixture
    def bot_settings(self, bot_settings):
        return bot_settings.model_copy(update={"burst_window": 8.0})

    async def test_a_whole_question_is_answered_at_once(self, tg):
        mark = tg.api.mark()
        await tg.api.send_text(940, "how many days can i stay in kazakhstan without a visa", "en")
        [answer] = await tg.api.wait_for("sendMessage", since=mark, timeout=5)
        assert KB["kz-stay"].text["en"].title in answer.shown

    async def test_a_piece_then_a_question_are_joined_at_once(self, tg):
        mark = tg.api.mark()
        await tg.api.send_text(941, "patent", "ru")
        await asyncio.sleep(0.2)
        await tg.api.send_text(941, "как оплатить?", "ru")
        [answer] = await tg.api.wait_for("sendMessage", since=mark, timeout=5)
        assert KB["patent-payment"].text["ru"].title in answer.shown
        await tg.api.settle(1.0)
        assert len(tg.api.since("sendMessage", mark)) == 1


async def test_typing_is_shown_only_while_an_answer_keeps_the_user_waiting(tg, monkeypatch):
    from bot.telegram import questions

    await tg.say(959, "how do i pay for the patent", "en")
    mark = tg.api.mark()
    await tg.say(960, "how do i pay for the patent", "en")  # from the cache: at once
    assert tg.api.since("sendChatAction", mark) == []
    monkeypatch.setattr(questions, "TYPING_AFTER", 0.0)  # now every answer is "slow"
    mark = tg.api.mark()
    await tg.say(961, "how long can i stay in kazakhstan", "en")
    [action] = tg.api.since("sendChatAction", mark)
    assert action.params["action"] == "typing" and int(action.params["chat_id"]) == 961
    [answer] = tg.api.since("sendMessage", mark)
    assert answer.at >= action.at  # shown before the answer, not after
