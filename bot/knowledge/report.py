"""Coverage and staleness of the knowledge base, for staff, as Markdown or one HTML page.

One row per catalogue topic (and per extra entry), one column per language: what
exists, how many question paraphrases it has, and whether the entry is a draft, due
for review, or without sources. `--strict` turns every required gap into a non-zero
exit so CI or a release script can stop on it.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.domain import LANGUAGES
from bot.knowledge.entries import KnowledgeBase
from bot.knowledge.validation import REVIEW_SOON_DAYS, SHORT_LIMIT
from bot.knowledge.yamldoc import Problem, errors

MIN_PARAPHRASES = 6  # per language, the target for a finished entry


@dataclass
class Row:
    topic_id: str
    title: str
    in_catalogue: bool
    exists: bool = False
    status: str = ""
    as_of: dt.date | None = None
    review_by: dt.date | None = None
    sources: int = 0
    questions: dict[str, int] = field(default_factory=dict)  # lang -> paraphrases
    answer_chars: dict[str, int] = field(default_factory=dict)
    gaps: list[str] = field(default_factory=list)  # required things missing
    notes: list[str] = field(default_factory=list)  # worth a look, not required
    review_state: str = ""  # "", "due soon" or "overdue"


@dataclass
class Report:
    today: dt.date
    rows: list[Row]
    problems: list[Problem]
    catalogue_found: bool

    @property
    def gaps(self) -> list[str]:
        found = [f"{r.topic_id}: {g}" for r in self.rows for g in r.gaps]
        found += [f"kb check: {p}" for p in errors(self.problems)]
        if not self.catalogue_found:
            found.append("the topic catalogue was not found; coverage cannot be judged")
        return found

    def counts(self) -> dict[str, int]:
        existing = [r for r in self.rows if r.exists]
        return {
            "topics": sum(r.in_catalogue for r in self.rows),
            "entries": len(existing),
            "missing": sum(r.in_catalogue and not r.exists for r in self.rows),
            "draft": sum(r.status == "draft" for r in existing),
            "reviewed": sum(r.status == "reviewed" for r in existing),
            "overdue": sum(r.review_state == "overdue" for r in existing),
            "due_soon": sum(r.review_state == "due soon" for r in existing),
        }


def load_catalogue(path: Path) -> list[dict] | None:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return list(data.get("topics", [])) if isinstance(data, dict) else None


def build_report(
    kb: KnowledgeBase,
    problems: list[Problem],
    catalogue: list[dict] | None,
    today: dt.date | None = None,
) -> Report:
    today = today or dt.date.today()
    rows: dict[str, Row] = {}
    for topic in catalogue or []:
        rows[topic["id"]] = Row(topic["id"], topic.get("title", ""), True)
    for entry in kb:
        row = rows.setdefault(entry.id, Row(entry.id, "", False))
        row.exists = True
        row.title = row.title or entry.local("en")[1].title
        row.status, row.as_of, row.review_by = entry.status, entry.as_of, entry.review_by
        row.sources = len(entry.sources)
        for lang, local in entry.text.items():
            row.questions[lang] = len(local.questions)
            row.answer_chars[lang] = len(local.answer)
        days = (entry.review_by - today).days
        row.review_state = "overdue" if days < 0 else "due soon" if days <= REVIEW_SOON_DAYS else ""
        if days < 0:
            row.gaps.append(f"review overdue since {entry.review_by}")
        elif days <= REVIEW_SOON_DAYS:
            row.notes.append(f"review due {entry.review_by}")
        if not entry.sources:
            row.gaps.append("no sources")
        for lang in LANGUAGES:
            n = row.questions.get(lang)
            if n is None:
                row.gaps.append(f"no {lang} text")
            elif n < MIN_PARAPHRASES:
                row.gaps.append(f"{lang}: {n} paraphrases, {MIN_PARAPHRASES} needed")
            short = entry.text[lang].short if lang in entry.text else ""
            if len(short) > SHORT_LIMIT:
                row.gaps.append(
                    f"{lang}: short answer has {len(short)} characters, {SHORT_LIMIT} at most"
                )
        untitled = [c for c in LANGUAGES if any(c not in s.titles for s in entry.sources)]
        if untitled:
            row.gaps.append(f"sources without a title in {', '.join(untitled)}")
        if entry.is_draft:
            row.notes.append("draft: not yet checked against primary sources")
        if not row.in_catalogue and catalogue is not None:
            row.notes.append("not in the catalogue (extra entry)")
    for row in rows.values():
        if row.in_catalogue and not row.exists:
            row.gaps.append("no entry")
    ordered = sorted(rows.values(), key=lambda r: (not r.in_catalogue, r.topic_id))
    return Report(today, ordered, problems, catalogue is not None)


# ---------------------------------------------------------------- rendering


def _cell(row: Row, lang: str) -> str:
    if lang not in row.questions:
        return "—"
    n = row.questions[lang]
    return f"{n}" if n >= MIN_PARAPHRASES else f"{n}!"


def to_markdown(report: Report) -> str:
    c = report.counts()
    out = [
        f"# Knowledge base report, {report.today}",
        "",
        f"{c['entries']} entries for {c['topics']} catalogue topics; {c['missing']} missing; "
        f"{c['reviewed']} reviewed, {c['draft']} draft; {c['overdue']} overdue for review, "
        f"{c['due_soon']} due within {REVIEW_SOON_DAYS} days.",
        "",
        "Language columns: question paraphrases per language (`!` below "
        f"{MIN_PARAPHRASES}, `—` no text).",
        "",
        "| topic | status | as of | review by | sources | "
        + " | ".join(LANGUAGES)
        + " | needs attention |",
        "|---|---|---|---|---|" + "---|" * len(LANGUAGES) + "---|",
    ]
    for r in report.rows:
        attention = "; ".join(r.gaps + r.notes) or "ok"
        if not r.exists:
            cells = " | ".join("—" for _ in LANGUAGES)
            out.append(f"| {r.topic_id} | missing | | | | {cells} | {attention} |")
            continue
        cells = " | ".join(_cell(r, lang) for lang in LANGUAGES)
        review = f"{r.review_by}" + (f" ({r.review_state})" if r.review_state else "")
        out.append(
            f"| {r.topic_id} | {r.status} | {r.as_of} | {review} | {r.sources} | {cells} | "
            f"{attention} |"
        )
    if report.problems:
        out += ["", "## kb check", ""] + [f"- {p}" for p in report.problems]
    gaps = report.gaps
    out += ["", f"**Required gaps: {len(gaps)}**" if gaps else "**No required gaps.**"]
    return "\n".join(out) + "\n"


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left}
th{background:#f3f3f3;position:sticky;top:0}td.n{text-align:center}
.ok{background:#e8f6e8}.warn{background:#fff4d6}.bad{background:#fbe0e0}.muted{color:#888}
"""


def to_html(report: Report) -> str:
    e = html.escape
    c = report.counts()
    head = "".join(f"<th>{lang}</th>" for lang in LANGUAGES)
    body = []
    for r in report.rows:
        cls = "bad" if r.gaps else "warn" if r.notes else "ok"
        attention = "<br>".join(e(x) for x in r.gaps + r.notes) or "ok"
        if not r.exists:
            cells = "".join('<td class="n bad">—</td>' for _ in LANGUAGES)
            body.append(
                f'<tr class="{cls}"><td>{e(r.topic_id)}<div class="muted">{e(r.title)}</div>'
                f"</td><td>missing</td><td></td><td></td><td></td>{cells}<td>{attention}</td></tr>"
            )
            continue
        cells = ""
        for lang in LANGUAGES:
            n = r.questions.get(lang)
            kind = "bad" if n is None or n < MIN_PARAPHRASES else "ok"
            cells += f'<td class="n {kind}">{"—" if n is None else n}</td>'
        review_cls = {"overdue": "bad", "due soon": "warn"}.get(r.review_state, "")
        body.append(
            f'<tr class="{cls}"><td>{e(r.topic_id)}<div class="muted">{e(r.title)}</div></td>'
            f'<td>{e(r.status)}</td><td>{r.as_of}</td><td class="{review_cls}">{r.review_by}'
            f'</td><td class="n">{r.sources}</td>{cells}<td>{attention}</td></tr>'
        )
    problems = "".join(f"<li>{e(str(p))}</li>" for p in report.problems)
    gaps = report.gaps
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>Knowledge base report {report.today}</title><style>{_CSS}</style>"
        f"<h1>Knowledge base report, {report.today}</h1>"
        f"<p>{c['entries']} entries for {c['topics']} catalogue topics; {c['missing']} missing; "
        f"{c['reviewed']} reviewed, {c['draft']} draft; {c['overdue']} overdue for review, "
        f"{c['due_soon']} due within {REVIEW_SOON_DAYS} days. Language columns count question "
        f"paraphrases (red below {MIN_PARAPHRASES}).</p>"
        f"<table><tr><th>topic</th><th>status</th><th>as of</th><th>review by</th>"
        f"<th>sources</th>{head}<th>needs attention</th></tr>{''.join(body)}</table>"
        + (f"<h2>kb check</h2><ul>{problems}</ul>" if problems else "")
        + f"<p><b>{'Required gaps: ' + str(len(gaps)) if gaps else 'No required gaps.'}</b></p>"
        "</html>\n"
    )
