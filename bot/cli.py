"""`migrant-bot`: the command line for users, staff and ops.

    migrant-bot run                  the main job: the bot when a token is set, else a chat
    migrant-bot ask "TEXT" [--json]  one question
    migrant-bot chat                 interactive terminal chat
    migrant-bot kb check             validate knowledge/ (file:line for every problem)
    migrant-bot deadline registration|stay|patent ...   deadline estimates from knowledge/rules
    migrant-bot reindex              validate, build a new index version, switch to it
    migrant-bot index list|use NAME  see versions, roll back
    migrant-bot eval --questions F   retrieval quality (with --baseline bm25|dense)
    migrant-bot calibrate --questions F   thresholds that fit a labelled set

Exit codes: 0 ok, 1 the checked thing has problems, 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import service
from bot.domain import LANGUAGES, NO_ANSWER
from bot.errors import EXIT_USAGE, ConfigError, InputError, MigrantBotError
from bot.knowledge.validation import InvalidKnowledgeBase, check_kb
from bot.knowledge.yamldoc import ID_PATTERN, errors
from bot.settings import Settings

log = logging.getLogger("migrant-bot")


class CliError(InputError):
    """A problem the user can fix; printed without a traceback, exit code 2."""


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise CliError(f"configuration error: {exc}") from exc


# ------------------------------------------------------------------ kb


def cmd_kb_check(args, settings: Settings) -> int:
    from bot.deadlines.rulebook import check_rules, rules_dir_for

    kb, problems = check_kb(settings.kb_dir, settings.kb_languages)
    ruleset, rule_problems = check_rules(rules_dir_for(settings.kb_dir))
    problems = problems + rule_problems
    for p in problems:
        print(p)
    errs = errors(problems)
    warnings = len(problems) - len(errs)
    if errs:
        print(
            f"\n{len(errs)} error(s), {warnings} warning(s) in {settings.kb_dir}: "
            "fix the errors, then run this again."
        )
        return 1
    n_rules = len(list(ruleset.all_rules()))
    print(
        f"OK: {len(kb)} entries and {n_rules} deadline rules in {settings.kb_dir}, "
        f"{warnings} warning(s)."
    )
    return 0


def cmd_kb_review(args, settings: Settings) -> int:
    from bot.knowledge.review import mark_reviewed

    if not ID_PATTERN.match(args.id):
        raise CliError(f"'{args.id}' is not an entry id (e.g. ru-stay-limit)")
    path = Path(settings.kb_dir) / f"{args.id}.yaml"
    if not path.is_file():
        raise CliError(f"no entry '{args.id}': {path} does not exist")
    done = mark_reviewed(
        path,
        by=args.by,
        source=args.source,
        on=_date_arg(args.on, "--on"),
        review_by=_date_arg(args.next, "--next"),
    )
    print(
        f"{done.path}: reviewed on {done.on} by {done.by}; "
        f"next review by {done.review_by}. Run `migrant-bot reindex` to publish."
    )
    return 0


def cmd_kb_inbox(args, settings: Settings) -> int:
    """Paraphrases staff suggested from cases (/teach in the staff chat). They never
    enter knowledge/ by themselves: a person adds the good ones to the entry's
    paraphrases and runs `kb check`, then dismisses them here."""
    import asyncio

    from bot.storage.factory import open_storage

    async def run() -> tuple[list, bool | None]:
        storage = open_storage(settings)
        await storage.open()
        try:
            dismissed = None
            if args.done is not None:
                dismissed = await storage.dismiss_suggestion(args.done)
            return await storage.suggestions(args.limit), dismissed
        finally:
            await storage.close()

    found, dismissed = asyncio.run(run())
    if args.done is not None and not dismissed:
        raise CliError(f"no open suggestion #{args.done} (see `migrant-bot kb inbox`)")
    if args.json:
        rows = [
            {**asdict(s), "created_at": s.created_at.isoformat(timespec="seconds")} for s in found
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if args.done is not None:
        print(f"#{args.done} dismissed.")
    if not found:
        print("No suggestions waiting.")
        return 0
    for s in found:
        print(f"#{s.id}  {s.created_at:%Y-%m-%d}  {s.entry_id} [{s.lang}]  {s.text}")
    print(
        f"\n{len(found)} suggestion(s). Add the good ones to `paraphrases` of the language "
        f"in {settings.kb_dir}/ENTRY.yaml, run `migrant-bot kb check`, then "
        "`migrant-bot kb inbox --done ID`."
    )
    return 0


def _date_arg(value: str | None, flag: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CliError(f"{flag} '{value}' is not a date; write it as YYYY-MM-DD") from None


def cmd_kb_report(args, settings: Settings) -> int:
    from bot.knowledge.report import build_report, load_catalogue, to_html, to_markdown

    kb, problems = check_kb(settings.kb_dir, settings.kb_languages)
    catalogue_path = Path(args.catalogue) if args.catalogue else settings.kb_catalogue
    catalogue = load_catalogue(catalogue_path)
    if catalogue is None:
        print(f"warning: no topic catalogue at {catalogue_path}", file=sys.stderr)
    report = build_report(kb, problems, catalogue)
    text = to_html(report) if args.format == "html" else to_markdown(report)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text, end="")
    gaps = report.gaps
    if args.strict and gaps:
        print(f"\n--strict: {len(gaps)} required gap(s):", file=sys.stderr)
        for gap in gaps:
            print(f"  {gap}", file=sys.stderr)
        return 1
    return 0


def cmd_kb_links(args, settings: Settings) -> int:
    import asyncio

    from bot.knowledge.links import check_links, format_results, source_urls

    kb, problems = check_kb(settings.kb_dir, settings.kb_languages)
    urls = source_urls(kb)
    if errors(problems):
        print(
            f"note: kb check finds errors; checking the links of the {len(kb)} valid entries",
            file=sys.stderr,
        )
    results = asyncio.run(
        check_links(
            urls, concurrency=args.concurrency, timeout=args.timeout, interval=args.interval
        )
    )
    if args.json:
        print(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=1))
    else:
        print(format_results(results))
        states: dict[str, int] = {}
        for r in results:
            states[r.state] = states.get(r.state, 0) + 1
        print("\n" + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    return 1 if any(r.broken for r in results) else 0


# ------------------------------------------------------------------ index


def cmd_reindex(args, settings: Settings) -> int:
    try:
        print(service.reindex(settings, quiet=args.quiet, force=args.force).summary())
        return 0
    except InvalidKnowledgeBase as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(
            f"\nreindex refused: {len(exc.problems)} error(s) in {settings.kb_dir}. The index "
            "in service was not changed. Fix the errors (migrant-bot kb check) and retry.",
            file=sys.stderr,
        )
        return 1


def cmd_index(args, settings: Settings) -> int:
    from bot.retrieval.index import current_version_name, list_versions, switch_to

    if args.action == "list":
        current = current_version_name(settings.index_dir)
        versions = list_versions(settings.index_dir)
        if not versions:
            print(f"no index versions in {settings.index_dir}: run `migrant-bot reindex`")
        for name in versions:
            manifest = json.loads((settings.index_dir / name / "manifest.json").read_text())
            mark = "*" if name == current else " "
            print(
                f"{mark} {name}  {manifest['model_id']}  {manifest['counts']['entries']} "
                f"entries  built {manifest['built_at']}"
            )
        return 0
    if not args.name:
        raise CliError("index use needs a version name (see `migrant-bot index list`)")
    switch_to(settings.index_dir, args.name)
    print(
        f"now serving {args.name}; running processes switch within "
        f"{settings.index_check_interval:.0f} s"
    )
    return 0


# ------------------------------------------------------------------ questions


def _result_json(result, kb, contact: str) -> dict:
    """`text` is the first message exactly as a Telegram user sees it (link texts, not
    addresses: those are in `sources`); `details` is what "More" shows."""
    from bot.knowledge.entries import FIRST_SOURCES
    from bot.retrieval.render import as_shown, render, render_more

    text = as_shown(render(result, kb, contact, fmt="html"))
    details = render_more(result, fmt="html")
    sources = result.entry.sources[:FIRST_SOURCES] if result.decision == "answer" else ()
    return {
        "decision": result.decision,
        "entry_id": result.entry_id,
        "lang": result.lang,
        "score": result.score,
        "candidates": [asdict(c) for c in result.candidates],
        "text": text,
        "details": None if details is None else as_shown(details),
        "sources": [{"title": s.title_in(result.lang), "url": s.url} for s in sources],
        "detected_script": result.detected.script,
        "latin_russian": result.detected.latin_russian,
        "index_version": result.index_version,
        "smalltalk": result.smalltalk,
    }


def _with_details(text: str, details: str | None) -> str:
    """The terminal shows what the bot puts behind "More" right after the first message."""
    return text if details is None else f"{text}\n\n{'-' * 20} {details}"


def cmd_ask(args, settings: Settings) -> int:
    from bot.retrieval.render import render, render_more

    if args.lang and args.lang not in LANGUAGES:
        raise CliError(f"--lang must be one of {', '.join(LANGUAGES)}")
    assistant = service.open_assistant(settings)
    result = assistant.ask(args.text, lang=args.lang)
    kb = result.kb or assistant.version.kb
    if args.json:
        data = _result_json(result, kb, settings.help_contact)
        print(json.dumps(data, ensure_ascii=False, indent=1))
    else:
        print(_with_details(render(result, kb, settings.help_contact), render_more(result)))
    return 0


def cmd_chat(args, settings: Settings, intro: str = "") -> int:
    import time

    from bot.i18n import gettext_for
    from bot.retrieval.followups import Context, context_of, context_of_choice, contextualise
    from bot.retrieval.render import render, render_answer, render_details, render_more

    assistant = service.open_assistant(settings, build_if_missing=True)
    kb = assistant.version.kb
    if intro:
        print(intro)
    print(
        "Ask a question in Russian, Kazakh, Uzbek, Kyrgyz, Tajik or English. "
        "Type a number to pick a suggested topic; empty line or Ctrl-D to quit.\n"
    )
    pending: list = []
    pending_lang = args.lang or "ru"
    topic: Context | None = None  # the last answer's topic, for a follow-up
    spoken: str | None = None  # the language of the last reply
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not line:
            return 0
        if line.isdigit() and pending and 1 <= int(line) <= len(pending):
            entry = kb[pending[int(line) - 1].entry_id]
            text = render_answer(entry, pending_lang)
            print("\n" + _with_details(text, render_details(entry, pending_lang)) + "\n")
            topic = context_of(entry, pending_lang, time.time(), kb)
            pending = []
            continue
        followup = contextualise(line, topic, time.time(), settings.followup_window)
        # the language of the conversation so far breaks ties ("рахмат" after Uzbek)
        result = assistant.ask(
            followup or line, lang=args.lang, hint=spoken, typed=line if followup else None
        )
        spoken = result.lang
        kb = result.kb or kb
        if followup and topic is not None and topic.title and result.entry is not None:
            note = gettext_for(result.lang)("Continuing: {topic}").format(topic=topic.title)
            print("\n↪️ " + note)
        text = render(result, kb, settings.help_contact)
        print("\n" + _with_details(text, render_more(result)) + "\n")
        pending = result.candidates if result.decision == "clarify" else []
        pending_lang = result.lang
        if result.entry is not None:
            topic = context_of(result.entry, result.lang, time.time(), kb)
        elif result.decision == "clarify":  # "а в России?" instead of a number
            offered = [kb[c.entry_id] for c in pending if c.entry_id in kb]
            topic = context_of_choice(offered, result.lang, time.time(), kb)


def cmd_run(args, settings: Settings) -> int:
    if settings.bot_token is not None and settings.bot_token.get_secret_value():
        # A token means the operator wants the bot: a Telegram layer that cannot load is
        # a broken install, never a reason to start something else and exit 0.
        try:
            from bot.telegram import run_bot
        except ImportError as exc:
            raise ConfigError(
                f"BOT_TOKEN is set, but the Telegram layer cannot be loaded ({exc}). "
                "Reinstall the project (`make run`, or `pip install -e .`) and start again."
            ) from exc
        service.check_ready(settings)
        return run_bot(settings)
    service.check_ready(settings)
    intro = (
        "No BOT_TOKEN configured: this is the terminal chat on the same engine the "
        "Telegram bot uses. To run the bot, set BOT_TOKEN (see README)."
    )
    return cmd_chat(args, settings, intro)


# ------------------------------------------------------------------ measuring


def _outcomes(args, settings: Settings, baseline: str | None):
    from bot.knowledge.labelled import read_questions
    from bot.retrieval import evaluate
    from bot.retrieval.embed import make_embedder

    questions = read_questions(Path(args.questions))
    assistant = service.open_assistant(settings)
    kb = assistant.version.kb
    unknown = evaluate.check_ids(questions, kb)
    if unknown:
        raise CliError(f"{args.questions} expects ids the knowledge base lacks: {unknown}")
    if baseline == "bm25":
        runner, name = evaluate.bm25_runner(kb), "bm25"
    elif baseline == "dense":
        runner, name = evaluate.dense_runner(kb, make_embedder(settings)), "dense"
    else:
        runner, name = evaluate.project_runner(assistant), "project"
        if not getattr(args, "ignore_context", False):
            followup = evaluate.followup_reader(assistant)
            return evaluate.run_all(questions, runner, followup), name
    return evaluate.run_all(questions, runner), name


def cmd_eval(args, settings: Settings) -> int:
    from bot.retrieval import evaluate

    outcomes, name = _outcomes(args, settings, args.baseline)
    rep = evaluate.report(outcomes, name)
    if args.json:
        print(json.dumps(rep, ensure_ascii=False, indent=1))
    else:
        print(evaluate.format_table([rep]))
        if args.show_errors:
            for o in outcomes:
                exp = list(o.question.expected) or None
                ok = (o.decision == "answer" and o.answered in o.question.expected) or (
                    not o.question.expected and o.decision in NO_ANSWER
                )
                if not ok:
                    top = ", ".join(f"{c.entry_id}:{c.score:.3f}" for c in o.scores[:3])
                    print(f"[{o.lang}] {o.decision:<8} exp={exp} | {o.question.text} | {top}")
    return 0


def cmd_calibrate(args, settings: Settings) -> int:
    from bot.retrieval import evaluate

    # The lexical weight and the country penalty change the ranking itself, so each pair
    # is scored with its own rankings and kept if it ranks best (mean reciprocal rank; the
    # utility breaks ties): every answer and every list of topics rests on the ranking.
    # The thresholds are then fitted on those rankings.
    best, key, utility, outcomes = {}, (float("-inf"),) * 2, float("-inf"), []
    for weight, penalty in itertools.product(evaluate.LEXICAL_WEIGHTS, evaluate.COUNTRY_PENALTIES):
        trial = settings.model_copy(update={"lexical_weight": weight, "country_penalty": penalty})
        trial_outcomes, _ = _outcomes(args, trial, None)
        thresholds, trial_utility = evaluate.calibrate(trial_outcomes, trial)
        trial_key = (evaluate.score_group(trial_outcomes)["mrr"] or 0.0, trial_utility)
        if trial_key > key:
            best = {"lexical_weight": weight, "country_penalty": penalty, **thresholds}
            key, utility, outcomes = trial_key, trial_utility, trial_outcomes
    tuned = settings.model_copy(update=best)
    rep = evaluate.report(evaluate.redecide(outcomes, tuned), "tuned")
    if args.json:
        print(json.dumps({"thresholds": best, "utility": utility, "report": rep}, indent=1))
        return 0
    print(evaluate.format_table([rep]))
    print(f"\nmean utility per question {utility:.3f}; set these (env or .env):")
    for key, value in best.items():
        print(f"{key.upper()}={value}")
    return 0


def _bench_module(name: str, required: bool = True) -> Any:
    """A module of bench/ in the source checkout: benchmarks are not part of the
    installed package (they drive the test stand-in and read tests/data)."""
    import importlib

    root = Path(__file__).resolve().parent.parent
    if not (root / "bench" / f"{name}.py").is_file():
        if not required:
            return None
        raise CliError(
            f"benchmarks run from a source checkout: no bench/{name}.py under {root}. "
            "Clone the repository and install it with `make run`."
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(f"bench.{name}")


def cmd_bench(args, settings: Settings) -> int:
    return int(_bench_module("harness").run(args, settings))


# ------------------------------------------------------------------ deadlines


def _print_deadline(result, headline: str) -> None:
    print(headline)
    print(f"Rule: {result.rule.rule_id} ({result.rule.status}, as of {result.rule.as_of})")
    print(f"  {result.rule.text}")
    for source in result.rule.sources:
        print(f"Source: {source.title}\n  {source.url}")
    for caveat in result.caveats:
        print(f"Caveat: {caveat.english()}")
    print(result.estimate)


def _today(args) -> Any:
    """--today, for results that do not depend on the day they are computed."""
    import datetime as dt

    from bot.deadlines.dates import parse_iso

    return parse_iso(args.today, "--today") if args.today else dt.date.today()


def _typed_date(text: str, option: str, today: Any, look: str) -> Any:
    """A date as people type it ("5 марта", "05.03", 2026-03-05), as the bot reads it."""
    from bot.deadlines.dates import DateInputError, parse_user_date

    try:
        return parse_user_date(text, today, None, look)
    except DateInputError as exc:
        raise CliError(f"{option}: {exc.message}") from None


def _registration(args, rules) -> tuple[Any, str]:
    from bot.deadlines.calculators import registration_deadline
    from bot.deadlines.dates import BACK

    arrived = _typed_date(args.arrived, "--arrived", _today(args), BACK)
    result = registration_deadline(rules, args.country, args.citizenship, arrived)
    unit = "working" if result.counting == "working" else "calendar"
    headline = (
        f"Registration deadline: {result.deadline} ({result.deadline:%A}); "
        f"{result.term} {unit} days from arrival on {result.arrived}"
    )
    return result, headline


def _stay(args, rules) -> tuple[Any, str]:
    from bot.deadlines.calculators import stay_counter
    from bot.deadlines.dates import parse_iso

    on = parse_iso(args.on, "--on") if args.on else _today(args)
    result = stay_counter(rules, args.country, args.citizenship, args.trips, on)
    last = result.last_legal_day
    left = (
        f"{last} ({last:%A})"
        if last
        else (f"none, over the limit by {result.overstay_days} day(s)")
    )
    headline = (
        f"Days used: {result.days_used} of {result.limit} (window {result.window_start}"
        f" to {result.window_end}); days left: {result.days_left}; last legal day: {left}"
    )
    return result, headline


def _patent(args, rules) -> tuple[Any, str]:
    from bot.deadlines.calculators import patent_due
    from bot.deadlines.dates import AHEAD

    # A paid-until date looks ahead: "5 марта" typed in December is next March.
    paid_until = _typed_date(args.paid_until, "--paid-until", _today(args), AHEAD)
    result = patent_due(rules, paid_until, args.remind_days)
    headline = (
        f"Pay the next patent month by: {result.due} ({result.due:%A}); from "
        f"{result.next_period_start} the patent is void if it is not paid"
    )
    return result, headline


def cmd_console(args, settings: Settings) -> int:
    """Serve the staff console (bot/console): edit, review and publish from a browser."""
    import uvicorn

    from bot.console.accounts import AccountStore
    from bot.console.app import create_app

    host = args.host or settings.console_host
    port = args.port or settings.console_port
    if not AccountStore(settings.data_dir).all():
        print(
            "No staff accounts yet: create one with `migrant-bot accounts add NAME --role "
            "editor` (or reviewer), then sign in.",
            file=sys.stderr,
        )
    print(f"Staff console on http://{host}:{port}/ (Ctrl+C to stop)", file=sys.stderr)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=True,
        server_header=False,
    )
    return 0


def _new_password(args) -> str:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (at least 10 characters): ")
    if first != getpass.getpass("Again: "):
        raise CliError("the two passwords differ; nothing changed")
    return first


def cmd_accounts(args, settings: Settings) -> int:
    """Staff accounts of the console (DATA_DIR/console/accounts.json)."""
    from bot.console.accounts import AccountStore

    store = AccountStore(settings.data_dir)
    if args.action == "list":
        accounts = store.all()
        for account in accounts.values():
            print(f"{account.name}\t{account.role}")
        if not accounts:
            print("No accounts. Create one: migrant-bot accounts add NAME --role editor")
        return 0
    if not args.name:
        raise CliError(f"`accounts {args.action}` needs an account name")
    if args.action == "add":
        if not args.role:
            raise CliError("give --role editor or --role reviewer")
        store.add(args.name, args.role, _new_password(args))
        print(f"Account '{args.name.lower()}' ({args.role}) created.")
    elif args.action == "password":
        store.set_password(args.name, _new_password(args))
        print(f"Password of '{args.name}' changed; its sessions are signed out.")
    elif args.action == "signout":
        store.sign_out_everywhere(args.name)
        print(f"Every session of '{args.name}' is signed out.")
    else:
        store.remove(args.name)
        print(f"Account '{args.name}' removed; its sessions no longer work.")
    return 0


def cmd_deadline(args, settings: Settings) -> int:
    from bot.deadlines.rulebook import InvalidRules, load_rules, rules_dir_for

    try:
        rules = load_rules(rules_dir_for(settings.kb_dir))
    except InvalidRules as exc:
        raise CliError(f"{exc}\n(run `migrant-bot kb check`)") from None
    calculate = {"registration": _registration, "stay": _stay, "patent": _patent}
    result, headline = calculate[args.deadline_command](args, rules)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=1))
    else:
        _print_deadline(result, headline)
    return 0


# ------------------------------------------------------------------ main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="migrant-bot", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("run", help="start the bot (or the terminal chat without a token)")
    p.add_argument("--lang", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("text")
    p.add_argument("--lang", help="reply language (default: the question's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="interactive terminal chat")
    p.add_argument("--lang", help="reply language (default: each question's)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("kb", help="knowledge-base tools")
    kb_sub = p.add_subparsers(dest="kb_command", required=True)
    c = kb_sub.add_parser("check", help="validate knowledge/ and name file:line of problems")
    c.set_defaults(func=cmd_kb_check)
    c = kb_sub.add_parser(
        "review", help="mark an entry reviewed against a source (status, as_of, review)"
    )
    c.add_argument("id", help="the entry id, e.g. ru-stay-limit")
    c.add_argument("--by", required=True, help="the reviewer's role (e.g. lawyer), not a name")
    c.add_argument("--source", required=True, help="URL of the source the entry was checked on")
    c.add_argument("--on", help="day of the review, YYYY-MM-DD (default: today)")
    c.add_argument("--next", help="next review by, YYYY-MM-DD (default: in about six months)")
    c.set_defaults(func=cmd_kb_review)
    c = kb_sub.add_parser("inbox", help="paraphrases staff suggested from cases (/teach)")
    c.add_argument("--json", action="store_true")
    c.add_argument("--done", type=int, metavar="ID", help="dismiss suggestion ID (handled)")
    c.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    c.set_defaults(func=cmd_kb_inbox)
    c = kb_sub.add_parser("report", help="coverage and staleness report (Markdown or HTML)")
    c.add_argument("--format", choices=("md", "html"), default="md")
    c.add_argument("--output", "-o", help="write to this file instead of the terminal")
    c.add_argument("--catalogue", help="topic catalogue (default: KB_CATALOGUE)")
    c.add_argument("--strict", action="store_true", help="exit 1 if anything required is missing")
    c.set_defaults(func=cmd_kb_report)
    c = kb_sub.add_parser("links", help="check every source URL (dead, moved, redirected)")
    c.add_argument("--json", action="store_true")
    c.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    c.add_argument("--timeout", type=float, default=15.0, help="seconds per request")
    c.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="seconds between requests to one host (default 1)",
    )
    c.set_defaults(func=cmd_kb_links)

    p = sub.add_parser("deadline", help="estimate a registration, stay or patent deadline")
    dl_sub = p.add_subparsers(dest="deadline_command", required=True)
    c = dl_sub.add_parser("registration", help="when migration registration is due")
    c.add_argument("--country", required=True, help="country of stay: ru or kz")
    c.add_argument("--citizenship", required=True, help="ISO 3166 alpha-2 code: uz, tj, kg ...")
    c.add_argument(
        "--arrived", required=True, help='arrival date: 2026-03-05, 05.03.2026, "5 марта"'
    )
    c.add_argument("--json", action="store_true")
    c.add_argument("--today", help="count as if today were YYYY-MM-DD (reproducible results)")
    c.set_defaults(func=cmd_deadline)
    c = dl_sub.add_parser("stay", help="days used and left under the stay limit")
    c.add_argument("--country", required=True, help="country of stay: ru or kz")
    c.add_argument("--citizenship", required=True, help="ISO 3166 alpha-2 code: uz, tj, kg ...")
    c.add_argument(
        "--trips", required=True, help="IN:OUT,IN:OUT,IN: (YYYY-MM-DD; last one open if inside)"
    )
    c.add_argument("--on", help="the day to count on, YYYY-MM-DD (default: today)")
    c.add_argument("--json", action="store_true")
    c.add_argument("--today", help="count as if today were YYYY-MM-DD (reproducible results)")
    c.set_defaults(func=cmd_deadline)
    c = dl_sub.add_parser("patent", help="the last day to pay the next patent month (Russia)")
    c.add_argument(
        "--paid-until", required=True, help='last paid day: 2026-03-05, 05.03, "5 марта"'
    )
    c.add_argument("--remind-days", type=int, help="also show the day N days before")
    c.add_argument("--json", action="store_true")
    c.add_argument("--today", help="count as if today were YYYY-MM-DD (reproducible results)")
    c.set_defaults(func=cmd_deadline)

    p = sub.add_parser("reindex", help="validate the KB, build a new index version, switch")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true", help="build even if nothing changed")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("index", help="list index versions or switch to one (roll back)")
    p.add_argument("action", choices=("list", "use"))
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_index)

    for name, func, text in (
        ("eval", cmd_eval, "score retrieval on a labelled JSONL file"),
        ("calibrate", cmd_calibrate, "fit decision thresholds on a labelled JSONL file"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--questions", required=True, help="JSONL: text, expected, lang")
        p.add_argument("--json", action="store_true")
        if name == "eval":
            p.add_argument("--baseline", choices=("bm25", "dense"))
            p.add_argument("--show-errors", action="store_true", help="list the misses")
            p.add_argument(
                "--ignore-context",
                action="store_true",
                help="read follow-ups (lines with a context) as questions of their own",
            )
        p.set_defaults(func=func)
    p = sub.add_parser("console", help="serve the staff console (edit, review, publish)")
    p.add_argument("--host", help="address to listen on (default: CONSOLE_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: CONSOLE_PORT, 8090)")
    p.set_defaults(func=cmd_console)
    p = sub.add_parser("accounts", help="staff accounts of the console")
    p.add_argument("action", choices=("list", "add", "password", "signout", "remove"))
    p.add_argument("name", nargs="?", help="account name (a login such as lawyer1)")
    p.add_argument("--role", choices=("editor", "reviewer"))
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin (scripts)"
    )
    p.set_defaults(func=cmd_accounts)
    p = sub.add_parser("bench", help="throughput and latency vs a naive bot (figures, JSON)")
    bench_options = _bench_module("options", required=False)
    if bench_options is not None:
        bench_options.add_arguments(p)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        args = parser.parse_args(["run", *(argv or [])])
    try:
        return args.func(args, _settings())
    except MigrantBotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
