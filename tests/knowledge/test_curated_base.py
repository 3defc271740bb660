"""The curated knowledge base and the evaluation sets stay well-formed.

Dates are judged as of the newest `as_of` in the base, so this test checks structure
(languages, fields, sources, related ids) without turning red the day a review falls
due; `migrant-bot kb check` reports overdue reviews to staff against today's date."""

import json

import pytest
import yaml

from bot.domain import LANGUAGES
from bot.knowledge.validation import SHORT_LIMIT, check_kb
from bot.knowledge.yamldoc import errors
from tests.support.paths import REPO

KNOWLEDGE = REPO / "knowledge"
CATALOGUE = REPO.parent / "shared" / "kb" / "topics.yaml"
EVAL_SETS = sorted((REPO / "tests" / "data").glob("*.jsonl"))


def newest_as_of():
    dates = [yaml.safe_load(p.read_text())["as_of"] for p in KNOWLEDGE.glob("*.yaml")]
    return max(dates)


def test_knowledge_base_is_valid():
    kb, problems = check_kb(KNOWLEDGE, today=newest_as_of())
    assert errors(problems) == [], "\n".join(map(str, errors(problems)))
    assert len(kb) >= 8
    for entry in kb:
        assert set(entry.text) == set(LANGUAGES), entry.id
        assert entry.sources, entry.id
        assert all(s.url.startswith(("http://", "https://")) for s in entry.sources)


def test_every_short_answer_fits_and_every_source_reads_in_every_language():
    # Warnings in kb check (staff may save a long draft); the published base has none.
    kb, _ = check_kb(KNOWLEDGE, today=newest_as_of())
    for entry in kb:
        for lang, local in entry.text.items():
            assert 0 < len(local.short) <= SHORT_LIMIT, (entry.id, lang, len(local.short))
        for source in entry.sources:
            assert set(source.titles) == set(LANGUAGES), (entry.id, source.title)


@pytest.mark.skipif(not CATALOGUE.exists(), reason="shared/ catalogue not beside the repo")
def test_entry_ids_come_from_the_catalogue():
    catalogue = {t["id"] for t in yaml.safe_load(CATALOGUE.read_text())["topics"]}
    ids = {p.stem for p in KNOWLEDGE.glob("*.yaml")}
    assert ids <= catalogue, ids - catalogue


@pytest.mark.parametrize("path", EVAL_SETS, ids=lambda p: p.name)
def test_evaluation_sets_refer_to_existing_entries(path):
    ids = {p.stem for p in KNOWLEDGE.glob("*.yaml")}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        item = json.loads(line)
        expected = item["expected"]
        expected = [] if expected is None else [expected] if isinstance(expected, str) else expected
        assert set(expected) <= ids, f"{path.name}:{n}"
        assert item.get("lang") in (None, *LANGUAGES), f"{path.name}:{n}"
