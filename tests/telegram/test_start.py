"""/start, the language picker, Telegram's language_code and the fallback to Russian."""

from __future__ import annotations

from bot.domain import LANGUAGES
from bot.i18n import gettext_for
from bot.telegram.callbacks import LangCb


def _help_title(lang: str) -> str:
    return gettext_for(lang)("How to use this assistant")


async def test_start_explains_and_offers_languages(tg):
    [reply] = await tg.say(1, "/start", "ru")
    data = [b["callback_data"] for b in reply.buttons]
    assert [d for d in data if d.startswith("lang:")] == [f"lang:{c}" for c in LANGUAGES]
    assert "privacy" in data
    assert "/privacy" in reply.shown
    assert tg.settings.operator_name in reply.shown
    # the text is the Russian catalogue's, not the English source
    assert gettext_for("ru")("Privacy") != "Privacy"
    assert reply.shown != reply.shown.encode("ascii", "ignore").decode()


async def test_language_choice_is_stored_and_used(tg):
    [start] = await tg.say(2, "/start", "ru")
    await tg.tap(LangCb(code="kk").pack(), start, 2)
    [confirm] = await tg.api.wait_for("sendMessage")
    assert await tg.storage.get_language(tg.key(2)) == "kk"
    assert gettext_for("kk")("Language: {language}").split("{")[0].strip() in confirm.shown
    # later messages use Kazakh although Telegram says Russian
    [help_reply] = await tg.say(2, "/help", "ru")
    assert _help_title("kk") in help_reply.shown
    assert _help_title("kk") != _help_title("ru")


async def test_telegram_language_code_else_russian(tg):
    [tajik] = await tg.say(3, "/help", "tg")
    assert _help_title("tg") in tajik.shown
    [regional] = await tg.say(4, "/help", "uz-UZ")
    assert _help_title("uz") in regional.shown
    [german] = await tg.say(5, "/help", "de")
    assert _help_title("ru") in german.shown
    [none] = await tg.say(6, "/help", None)
    assert _help_title("ru") in none.shown


async def test_forged_language_changes_nothing(tg):
    [start] = await tg.say(7, "/start", "en")
    answered = await tg.tap("lang:xx", start, 7)
    assert answered.params["callback_query_id"]
    await tg.api.settle(0.3)
    assert tg.api.since("sendMessage") == []
    assert await tg.storage.get_language(tg.key(7)) is None


async def test_the_menu_follows_the_chosen_language_in_that_chat_until_forget(tg):
    # Telegram apps have no Kyrgyz: a menu keyed by the app's language would stay
    # Russian for a Kyrgyz user. After the choice, the chat has a Kyrgyz menu of its own.
    from bot.telegram.callbacks import ForgetCb

    user = 8
    [start] = await tg.say(user, "/start", "ru")
    await tg.tap(LangCb(code="ky").pack(), start, user)
    await tg.api.wait_for("sendMessage")
    ky = gettext_for("ky")
    english = "count your deadlines and set reminders"
    assert ky(english) != english
    menu = {m["command"]: m["description"] for m in tg.api.menu_for(user, "ru")}
    assert menu["deadlines"] == ky(english)
    assert tg.api.menu_for(9, "ru") != tg.api.menu_for(user, "ru")  # only this chat

    [ask] = await tg.say(user, "/forget")
    await tg.tap(ForgetCb(ok=1).pack(), ask, user)
    await tg.api.wait_for("editMessageText")
    menu = {m["command"]: m["description"] for m in tg.api.menu_for(user, "ru")}
    assert menu.get("deadlines") != ky(english)  # the chosen language is forgotten too
