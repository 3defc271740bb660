"""The `migrant-bot` command line, driven in-process (and once as a real process)."""

import io
import json
import os
import subprocess
import sys

import pytest

from bot.cli import main

EVAL_KEYS = {
    "top1",
    "top3",
    "mrr",
    "answered_correct",
    "wrong_answer_rate",
    "in_scope_abstain_rate",
    "oos_abstain_rate",
    "reply_lang",
}


@pytest.fixture
def env(monkeypatch, settings):
    monkeypatch.setenv("KB_DIR", str(settings.kb_dir))
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ANSWER_THRESHOLD", "0.93")
    monkeypatch.setenv("ANSWER_MARGIN", "0.02")
    monkeypatch.setenv("CLARIFY_THRESHOLD", "0.86")
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    return settings


@pytest.fixture
def questions(tmp_path):
    lines = [
        {"text": "как заплатить за патент", "expected": "patent-payment", "lang": "ru"},
        {"text": "how can i pay patent money", "expected": "patent-payment", "lang": "en"},
        {"text": "келгенден кийин каттоого канча күн бар", "expected": ["registration-deadline"]},
        {"text": "қазақстанда визасыз неше күн болуға болады", "expected": "kz-stay", "lang": "kk"},
        {"text": "pizza recipe please", "expected": None, "lang": "en"},
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    return path


def test_kb_check_ok(env, capsys):
    assert main(["kb", "check"]) == 0
    assert "OK: 4 entries" in capsys.readouterr().out


def test_kb_check_reports_file_and_line(env, capsys):
    f = env.kb_dir / "kz-stay.yaml"
    f.write_text(f.read_text().replace("status: reviewed", "status: done"))
    assert main(["kb", "check"]) == 1
    out = capsys.readouterr().out
    line = f.read_text().splitlines().index("status: done") + 1
    assert f"{f}:{line}: status 'done' must be 'draft' or 'reviewed'" in out


def test_reindex_then_ask_json(env, capsys):
    assert main(["reindex", "--quiet"]) == 0
    assert "built index" in capsys.readouterr().out
    assert main(["ask", "kak zaplatit za patent", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"decision", "entry_id", "lang", "score", "candidates", "text"} <= set(data)
    assert data["decision"] == "answer" and data["entry_id"] == "patent-payment"
    assert data["lang"] == "ru"
    assert data["candidates"][0] == {"entry_id": "patent-payment", "score": data["score"]}
    assert [c["score"] for c in data["candidates"]] == sorted(
        (c["score"] for c in data["candidates"]), reverse=True
    )
    # `text` is the first message as a Telegram user sees it: the short answer and the
    # source by its Russian title (the address is under the link: `sources`); the full
    # answer is `details`
    title = "Тестовый источник об оплате патента"
    assert f"• {title}" in data["text"] and "https://" not in data["text"]
    assert data["sources"] == [{"title": title, "url": "https://example.org/patent-payment"}]
    step = "Узнайте сумму для своего региона"
    assert step not in data["text"] and step in data["details"]
    assert len(data["text"]) <= 1000


def test_kb_review_marks_an_entry_reviewed_and_keeps_the_file_as_written(env, capsys):
    f = env.kb_dir / "registration-deadline.yaml"
    f.write_text("# kept comment\n" + f.read_text())
    before = f.read_text()
    source = "https://example.org/registration-deadline"
    args = ["kb", "review", "registration-deadline", "--by", "Lawyer", "--source", source]
    assert main([*args, "--on", "2026-11-30", "--next", "2027-05-30"]) == 0
    assert "reviewed on 2026-11-30 by lawyer" in capsys.readouterr().out
    after = f.read_text()
    assert after.startswith("# kept comment\nid: registration-deadline\n")
    assert "status: reviewed\nas_of: 2026-11-30\nreview_by: 2027-05-30\nreview:\n" in after
    assert f"  by: lawyer\n  date: 2026-11-30\n  source: {source}\n" in after
    # the language blocks are untouched
    assert after.split("\ntext:\n")[1] == before.split("\ntext:\n")[1]
    assert main(["kb", "check"]) == 0
    # reviewing again replaces the block instead of adding a second one
    assert main([*args, "--on", "2026-12-01", "--next", "2027-06-01"]) == 0
    assert f.read_text().count("review:") == 1 and "date: 2026-12-01" in f.read_text()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--by", "Ivan Petrov 2"], "must be a role"),
        (["--by", "lawyer", "--source", "pravo.gov.ru"], "web address"),
        (["--by", "lawyer", "--on", "2999-01-01"], "in the future"),
        (["--by", "lawyer", "--next", "01.02.2027"], "YYYY-MM-DD"),
    ],
)
def test_kb_review_refuses_bad_arguments_and_changes_nothing(env, capsys, extra, message):
    f = env.kb_dir / "kz-stay.yaml"
    before = f.read_text()
    args = ["kb", "review", "kz-stay", "--source", "https://example.org/kz-stay", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert f.read_text() == before


def test_kb_check_requires_review_metadata_for_a_reviewed_entry(env, capsys):
    f = env.kb_dir / "kz-stay.yaml"
    text = f.read_text()
    start, end = text.index("review:\n"), text.index("sources:\n")
    f.write_text(text[:start] + text[end:])
    assert main(["kb", "check"]) == 1
    assert "a reviewed entry needs 'review'" in capsys.readouterr().out


def test_ask_abstain_json(env, built, capsys):
    assert main(["ask", "pizza recipe please", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decision"] == "abstain" and data["entry_id"] is None


def test_reindex_refuses_an_invalid_kb(env, built, capsys):
    f = env.kb_dir / "kz-stay.yaml"
    f.write_text(f.read_text().replace("country: kz", "country: mars"))
    assert main(["reindex", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "reindex refused" in err and "country 'mars'" in err
    assert main(["index", "list"]) == 0
    assert f"* {built.version}" in capsys.readouterr().out


def test_ask_without_index_says_what_to_do(env, capsys):
    assert main(["ask", "patent"]) == 2
    assert "migrant-bot reindex" in capsys.readouterr().err


def test_ask_rejects_unknown_language(env, built, capsys):
    assert main(["ask", "patent", "--lang", "fr"]) == 2
    assert "--lang must be one of" in capsys.readouterr().err


@pytest.mark.parametrize("baseline", [None, "bm25", "dense"])
def test_eval_json_has_the_agreed_keys(env, built, questions, baseline, capsys):
    args = ["eval", "--questions", str(questions), "--json"]
    assert main(args + (["--baseline", baseline] if baseline else [])) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n"] == 5
    assert set(data["overall"]) >= EVAL_KEYS
    assert {"p50", "p95"} == set(data["latency_ms"])
    assert set(data["by_lang"]) == {"ru", "en", "ky", "kk"}  # ky detected: no lang given
    for group in data["by_lang"].values():
        assert set(group) >= EVAL_KEYS
    if baseline is None:
        assert data["overall"]["top1"] == 1.0
        assert data["overall"]["oos_abstain_rate"] == 1.0
    if baseline == "dense":
        assert data["overall"]["oos_abstain_rate"] == 0.0  # no decision logic


def test_eval_bad_file(env, built, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "expected": "patent-payment"}\nnot json\n')
    assert main(["eval", "--questions", str(bad)]) == 2
    assert f"{bad}:2" in capsys.readouterr().err


def test_eval_unknown_expected_id(env, built, tmp_path, capsys):
    f = tmp_path / "q.jsonl"
    f.write_text('{"text": "a", "expected": "ru-nope"}\n')
    assert main(["eval", "--questions", str(f)]) == 2
    assert "ru-nope" in capsys.readouterr().err


def test_calibrate_prints_thresholds(env, built, questions, capsys):
    assert main(["calibrate", "--questions", str(questions)]) == 0
    out = capsys.readouterr().out
    for key in ("ANSWER_THRESHOLD=", "ANSWER_MARGIN=", "CLARIFY_THRESHOLD=", "CLARIFY_WINDOW="):
        assert key in out


def test_run_without_token_starts_the_chat(env, with_rules, monkeypatch, capsys):
    # no index yet: run builds it, then chats on stdin until an empty line
    monkeypatch.setattr(sys, "stdin", io.StringIO("how can i pay patent money\n\n"))
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert "No BOT_TOKEN configured" in out
    assert "Pay through a bank and keep the receipt." in out


def test_chat_clarify_pick_by_number(env, built, monkeypatch, capsys):
    monkeypatch.setenv("ANSWER_MARGIN", "0.1")
    monkeypatch.setenv("CLARIFY_WINDOW", "0.1")
    monkeypatch.setattr(sys, "stdin", io.StringIO("регистрация и патент\n1\n"))
    assert main(["chat"]) == 0
    out = capsys.readouterr().out
    assert "1. " in out and "2. " in out
    assert "Источники:" in out  # the picked topic's answer, in Russian


def test_console_script_runs_as_a_process(env, built):
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "ask", "how can i pay patent money", "--json"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["entry_id"] == "patent-payment"


def test_run_with_a_token_and_a_broken_telegram_layer_fails_loudly(env, built):
    # aiogram that cannot be imported (a broken install): with BOT_TOKEN set the
    # operator asked for the bot, so `run` must exit non-zero and say why, never start
    # the terminal chat and exit 0 (a service manager would think all is well).
    broken = (
        "import sys; sys.modules['aiogram'] = None; "
        "from bot.cli import main; sys.exit(main(['run']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", broken],
        capture_output=True,
        text=True,
        env={**os.environ, "BOT_TOKEN": "42:TEST"},
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Telegram layer cannot be loaded" in proc.stderr
    assert "aiogram" in proc.stderr
    assert "terminal chat" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


def test_benchmarks_are_not_part_of_the_installed_package():
    import importlib.util

    assert importlib.util.find_spec("bot.bench") is None
    assert importlib.util.find_spec("bot.telegram.standin") is None


@pytest.mark.parametrize("text", ["рахмат", "Assalomu alaykum"])
def test_ask_json_small_talk(env, built, capsys, text):
    assert main(["ask", text, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decision"] == "smalltalk" and data["entry_id"] is None
    assert data["smalltalk"] in ("thanks", "greeting") and data["text"]


def test_chat_keeps_the_conversations_language_and_script(
    env, built, with_rules, monkeypatch, capsys
):
    # "рахмат" alone could be Russian, Uzbek, Kyrgyz or Tajik: after an Uzbek greeting
    # in Cyrillic, it is Uzbek in Cyrillic.
    from bot.i18n import gettext_for
    from bot.retrieval.transliterate import uz_latin_to_cyrillic

    monkeypatch.setattr(sys, "stdin", io.StringIO("Ассалому алайкум\nрахмат\n\n"))
    assert main(["chat"]) == 0
    out = capsys.readouterr().out
    thanks = gettext_for("uz")("You are welcome! If you have another question, just write it.")
    assert uz_latin_to_cyrillic(thanks) in out


def test_kb_inbox_lists_teach_suggestions_and_dismisses_them(env, capsys):
    import asyncio

    from bot.storage.factory import open_storage

    async def suggest() -> None:
        storage = open_storage(env)
        await storage.open()
        await storage.add_suggestion("patent-payment", "tg", "патентро чӣ хел пардохт кунам")
        await storage.add_suggestion("kz-stay", "uz", "qozogʻistonda qancha tursa boʻladi")
        await storage.close()

    asyncio.run(suggest())
    assert main(["kb", "inbox"]) == 0
    out = capsys.readouterr().out
    assert "#1" in out and "patent-payment [tg]  патентро чӣ хел пардохт кунам" in out
    assert "kz-stay [uz]" in out and "2 suggestion(s)" in out
    assert main(["kb", "inbox", "--done", "1", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["entry_id"] for r in rows] == ["kz-stay"]
    assert main(["kb", "inbox", "--done", "1"]) == 2  # already dismissed
    assert "no open suggestion #1" in capsys.readouterr().err
