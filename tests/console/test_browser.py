"""The staff console in a real headless Chromium (Playwright driving Debian's
/usr/bin/chromium): what staff do, click by click, down to the bot's answer.

Screenshots of each step go to $CONSOLE_SCREENSHOTS when it is set (for a person to
look at); the assertions never depend on them.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.knowledge.editing import read_fields
from bot.storage.factory import open_storage
from tests.console.conftest import PASSWORD, Served
from tests.support.browser import async_browser

pytestmark = pytest.mark.slow

NEW_QUESTION = "можно ли оплатить патент через мобильное приложение банка"
NEW_SHORT = "Платите за патент заранее, до последнего оплаченного дня. Чеки храните весь срок."


async def shot(page, name: str) -> None:
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=False)


async def sign_in(page, served: Served, name: str) -> None:
    await page.goto(served.url + "/entries")
    assert "/login" in page.url  # nothing without signing in
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(served.url + "/entries")


def ask(served: Served, question: str) -> dict:
    """`migrant-bot ask --json` in a process of its own, as ops would run it."""
    env = {
        **os.environ,
        "KB_DIR": str(served.settings.kb_dir),
        "DATA_DIR": str(served.settings.data_dir),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", question, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)


async def test_edit_validate_preview_publish_and_the_bot_answers(served: Served):
    async with async_browser() as browser:
        page = await browser.new_page()
        await sign_in(page, served, "editor1")
        await shot(page, "1-entries")
        await page.click("a[href='/entries/patent-payment']")
        form = page.locator("#entry-form")

        # A validation error appears as staff type, with kb check's wording.
        await form.locator("input[name='ru.title']").fill("")
        await page.locator("#check").get_by_text("text.ru.title").wait_for()
        await shot(page, "2-validation-error")
        await form.locator("input[name='ru.title']").fill("Оплата патента на работу")
        await page.locator("#check").get_by_text("No problems").wait_for()

        # Two languages edited; the preview shows the first message as Telegram will.
        await form.locator("textarea[name='ru.short']").fill(NEW_SHORT)
        questions = form.locator("textarea[name='ru.questions']")
        await questions.fill((await questions.input_value()) + "\n" + NEW_QUESTION)
        await form.locator("input[name='kk.title']").fill("Жұмыс патентінің төлемі")
        ru = page.locator(".phone[data-lang='ru'] .bubble").first
        await ru.get_by_text("Платите за патент заранее").wait_for()
        await (
            page.locator(".phone[data-lang='kk'] .bubble")
            .first.get_by_text("Жұмыс патентінің төлемі")
            .wait_for()
        )
        await shot(page, "3-preview")
        await form.locator("button.primary").first.click()
        await page.get_by_text("Saved.").wait_for()
        fields = read_fields((served.settings.kb_dir / "patent-payment.yaml").read_text("utf-8"))
        assert fields.text["ru"].short == NEW_SHORT
        assert NEW_QUESTION in fields.text["ru"].questions
        assert fields.text["kk"].title == "Жұмыс патентінің төлемі"

        # Publish: validate, reindex, switch, with progress and the result.
        await page.click("nav a[href='/publish']")
        await page.click("button:has-text('Publish now')")
        await page.locator(".publish[data-state=done], .publish[data-state=failed]").wait_for(
            timeout=240_000
        )
        await shot(page, "4-published")
        assert await page.locator(".publish[data-state=done]").count() == 1, await page.locator(
            "#publish-state"
        ).inner_text()

    answer = await asyncio.to_thread(ask, served, NEW_QUESTION)
    assert answer["decision"] == "answer" and answer["entry_id"] == "patent-payment", answer
    assert NEW_SHORT in answer["text"]


async def test_review_and_gap_to_paraphrase(served: Served):
    storage = open_storage(served.settings)
    await storage.open()
    await storage.log_gap("u1", "патент через банк приложение оплатить можно", "ru", "abstain")
    await storage.log_gap("u2", "патент через банк приложение оплатить можно", "ru", "downvote")
    await storage.close()
    async with async_browser() as browser:
        # An editor is not offered the review, and a reviewer is.
        page = await browser.new_page()
        await sign_in(page, served, "editor1")
        await page.goto(served.url + "/entries/kz-stay")
        assert await page.get_by_text("Mark reviewed").count() == 0

        # The gap log: grouped, counted, one step to a paraphrase of the suggested entry.
        await page.click("nav a[href='/gaps']")
        gap = page.locator(".gap").filter(has_text="приложение оплатить можно")
        await gap.get_by_text("2×").wait_for()
        await gap.locator("select[name=entry]").select_option("patent-payment")
        await gap.locator("input[name=text]:visible").fill(
            "можно ли оплатить патент в приложении банка"
        )
        await shot(page, "5-gaps")
        await gap.locator("button:has-text('Add as paraphrase')").click()
        await page.get_by_text("Added as a paraphrase of patent-payment").wait_for()
        assert await page.locator(".gap").filter(has_text="приложение оплатить").count() == 0
        text = (served.settings.kb_dir / "patent-payment.yaml").read_text("utf-8")
        assert (
            "можно ли оплатить патент в приложении банка" in read_fields(text).text["ru"].questions
        )

        reviewer = await (await browser.new_context()).new_page()
        await sign_in(reviewer, served, "lawyer1")
        await reviewer.goto(served.url + "/entries/kz-stay")
        await reviewer.fill("input[name=source]", "https://adilet.zan.kz/rus/docs/Z1100000477")
        await reviewer.click("button:has-text('Mark reviewed')")
        await reviewer.get_by_text("Marked reviewed.").wait_for()
        await shot(reviewer, "6-reviewed")
        assert "status: reviewed" in (served.settings.kb_dir / "kz-stay.yaml").read_text("utf-8")
        await reviewer.goto(served.url + "/changes")
        log = await reviewer.locator("table.grid").inner_text()
        assert "review" in log and "paraphrase" in log
        assert "lawyer1" not in log and "editor1" not in log
