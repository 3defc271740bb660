"""`kb report`: coverage and staleness, Markdown and HTML, --strict."""

import datetime as dt
import html.parser

import pytest
import yaml

from bot.cli import main
from bot.knowledge.report import MIN_PARAPHRASES, build_report, load_catalogue, to_html, to_markdown
from bot.knowledge.validation import check_kb

TODAY = dt.date(2026, 11, 23)


def write_catalogue(path, ids):
    path.write_text(yaml.safe_dump({"topics": [{"id": i, "title": f"T {i}"} for i in ids]}))
    return path


def complete(kb_dir, entry_id):
    """Give an entry enough paraphrases in every language."""
    f = kb_dir / f"{entry_id}.yaml"
    data = yaml.safe_load(f.read_text())
    for lang, block in data["text"].items():
        block["questions"] += [f"{lang} extra question {i}" for i in range(MIN_PARAPHRASES)]
    f.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def report_for(kb_dir, catalogue, today=TODAY):
    kb, problems = check_kb(kb_dir, today=today)
    return build_report(kb, problems, load_catalogue(catalogue), today)


def test_missing_topics_and_thin_languages_are_gaps(kb_dir, tmp_path):
    cat = write_catalogue(tmp_path / "topics.yaml", ["kz-stay", "patent-payment", "ru-nothing"])
    report = report_for(kb_dir, cat)
    gaps = report.gaps
    assert "ru-nothing: no entry" in gaps
    assert any(g.startswith("kz-stay: en: 3 paraphrases") for g in gaps)
    md = to_markdown(report)
    assert "| ru-nothing | missing |" in md
    assert "2 entries" not in md and "4 entries for 3 catalogue topics; 1 missing" in md
    # an entry outside the catalogue is listed and noted, not dropped
    assert "not in the catalogue" in md and "registration-deadline" in md


def test_complete_catalogue_has_no_gaps(kb_dir, tmp_path):
    for f in kb_dir.glob("*.yaml"):
        if f.stem != "kz-stay":
            f.unlink()
    complete(kb_dir, "kz-stay")
    cat = write_catalogue(tmp_path / "topics.yaml", ["kz-stay"])
    report = report_for(kb_dir, cat)
    assert report.gaps == []
    assert "No required gaps." in to_markdown(report)


def test_review_dates(kb_dir, tmp_path):
    cat = write_catalogue(tmp_path / "topics.yaml", ["kz-stay", "patent-payment"])
    soon = (TODAY + dt.timedelta(days=10)).isoformat()
    f = kb_dir / "kz-stay.yaml"
    f.write_text(f.read_text().replace("review_by: 2099-01-01", f"review_by: {soon}"))
    report = report_for(kb_dir, cat)
    row = next(r for r in report.rows if r.topic_id == "kz-stay")
    assert row.review_state == "due soon" and f"review due {soon}" in row.notes
    # a month later the same entry is overdue: a required gap
    later = report_for(kb_dir, cat, today=TODAY + dt.timedelta(days=40))
    assert any("kz-stay: review overdue" in g for g in later.gaps)


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_one_self_contained_page(kb_dir, tmp_path):
    cat = write_catalogue(tmp_path / "topics.yaml", ["kz-stay", "<script>x</script>"])
    page = to_html(report_for(kb_dir, cat))
    parser = _Collect()
    parser.feed(page)
    assert "script" not in parser.tags  # catalogue text is escaped
    assert "link" not in parser.tags and "img" not in parser.tags  # nothing external
    assert parser.tags.count("tr") == 1 + 5  # header + 2 catalogue rows + 3 extra entries
    assert "<script>x</script>" in "".join(parser.text)


def test_cli_strict(kb_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KB_DIR", str(kb_dir))
    cat = write_catalogue(tmp_path / "topics.yaml", ["kz-stay", "ru-nothing"])
    out = tmp_path / "report.html"
    assert main(["kb", "report", "--catalogue", str(cat), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text().startswith("<!doctype html>")
    assert main(["kb", "report", "--catalogue", str(cat), "--strict"]) == 1
    assert "ru-nothing: no entry" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["", "topics: [", "just text"])
def test_unreadable_catalogue_is_a_gap(kb_dir, tmp_path, content):
    cat = tmp_path / "topics.yaml"
    cat.write_text(content)
    report = report_for(kb_dir, cat)
    assert any("catalogue was not found" in g for g in report.gaps)
