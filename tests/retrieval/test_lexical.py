"""The lexical signal: word-prefix coverage, BM25 for the baseline."""

import pytest

from bot.retrieval.lexical import COVERAGE_CAP, UNKNOWN_WEIGHT, LexicalIndex, stems

DOCS = {
    "kz-registration": ["қазақстанда тіркеу қанша күн ішінде", "шетелдікті тіркеу мерзімі"],
    "ru-patent": ["ресейде патент алу үшін құжаттар", "патент төлемі айына қанша"],
    "ru-stay": ["ресейде визасыз неше күн жүруге болады"],
}


def test_stems_fold_letters_people_leave_out():
    assert stems("тиркеу") == stems("тіркеу")
    assert stems("royxatdan o'tish") == stems("ro'yxatdan otish")


def test_coverage_matches_kazakh_typed_without_its_letters():
    index = LexicalIndex(DOCS)
    proper = index.coverage(["тіркеу мерзімі қанша"])
    plain = index.coverage(["тиркеу мерзими канша"])
    assert plain == pytest.approx(proper)
    assert max(plain, key=plain.get) == "kz-registration"


def test_words_the_base_never_uses_pull_coverage_down_more_than_words_it_knows():
    known_answers = ["өнертабыс патенті бұл жерде айтылмайды"]  # "invention" appears in an answer
    index = LexicalIndex(DOCS, known=known_answers)
    plain = LexicalIndex(DOCS)
    question = ["өнертабысқа патент алу"]  # a patent for an invention
    # the same words are matched; only how much the unmatched word weighs differs
    assert index.coverage(question)["ru-patent"] > plain.coverage(question)["ru-patent"]
    foreign = plain.coverage(question)["ru-patent"]
    weights = {t: plain.idf.get(t, plain.max_idf) for t in set(stems(question[0]))}
    hit = sum(w for t, w in weights.items() if t in plain.idf)
    unknown = sum(1 for t in weights if t not in plain.idf)
    assert unknown == 1
    assert foreign == pytest.approx(hit / (hit + UNKNOWN_WEIGHT * plain.max_idf))


def test_bm25_baseline_uses_plain_words():
    index = LexicalIndex(DOCS, prefix=0)
    scores = index.bm25("патент")
    assert max(scores, key=scores.get) == "ru-patent"
    assert index.bm25("тиркеу")["kz-registration"] == 0  # no folding in the baseline


def test_a_story_around_the_question_does_not_dilute_coverage_beyond_the_cap(monkeypatch):
    index = LexicalIndex(DOCS)
    question = "тіркеу мерзімі қанша"
    story = "сәлем мен алматыда ағамның үйінде тұрамын жұмыс іздеп жүрмін " + question
    assert index.coverage([question])["kz-registration"] == pytest.approx(1.0)
    long = index.coverage([story])
    hit = sum(index.idf[t] for t in set(stems(question)))
    # eight words no entry has weigh far more than the cap: the share is of the cap
    assert long["kz-registration"] == pytest.approx(hit / (COVERAGE_CAP * index.max_idf))
    assert max(long, key=long.get) == "kz-registration"
    monkeypatch.setattr("bot.retrieval.lexical.COVERAGE_CAP", 1000.0)  # no cap: the story dilutes
    diluted = index.coverage([story])["kz-registration"]
    assert diluted < long["kz-registration"] / 3
