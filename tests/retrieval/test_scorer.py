"""The learned scorer: the fit itself, its file, training at reindex with the real model
and FAISS, and refusal of a scorer that belongs to another knowledge version."""

import json

import numpy as np
import pytest

from bot.knowledge.labelled import TRAINING_DIR
from bot.retrieval.assistant import Assistant
from bot.retrieval.index import CorruptIndex, file_sha256, load_index
from bot.retrieval.results import Question
from bot.retrieval.scorer import FILE, Scorer, ScorerProblem, Thresholds, fit_logistic
from bot.retrieval.training import train_scorer
from tests.retrieval.test_index import rebuild

NOT_ABOUT = (
    "      - kak oplatit patent\n"
    "    not_about:\n"
    '      - "как получить патент на изобретение"\n'
    '      - "патент на полезную модель"\n'
)
LABELLED = [
    {"text": "скока стоит патент в месяц", "expected": "patent-payment"},
    {"text": "opozdal s oplatoy patenta", "expected": "patent-payment"},
    {"text": "сколько дней на регистрацию после приезда", "expected": "registration-deadline"},
    {"text": "hujjatlarni roʻyxatdan oʻtkazish muddati", "expected": "registration-deadline"},
    {"text": "қазақстанда қанша күн визасыз", "expected": "kz-stay"},
    {"text": "how long without visa in kazakhstan", "expected": "kz-stay"},
    {"text": "где консульство узбекистана", "expected": "consulate-help"},
    {"text": "патент на изобретение как оформить", "expected": None},
    {"text": "шенгенская виза сколько дней", "expected": None},
    {"text": "рецепт плова", "expected": None},
]


def _build(settings, embedder, force=False):
    def train(version):
        return train_scorer(version, embedder, settings, settings.cache_path)

    return rebuild(settings, embedder, force=force, train=train)


@pytest.fixture
def scored(settings, embedder, built):
    """The fixture knowledge base with `not_about` questions for the patent entry and a
    small labelled file, built with a trained scorer (most vectors from the cache the
    `built` fixture brings)."""
    path = settings.kb_dir / "patent-payment.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("      - kak oplatit patent\n", NOT_ABOUT, 1), encoding="utf-8")
    target = settings.kb_dir / TRAINING_DIR / "questions.jsonl"
    target.parent.mkdir(parents=True)
    target.write_text(
        "\n".join(json.dumps(q, ensure_ascii=False) for q in LABELLED) + "\n", encoding="utf-8"
    )
    return _build(settings, embedder)


def test_fit_logistic_recovers_a_known_model():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(20000, 3))
    p = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.5)))
    y = (rng.random(20000) < p).astype(float)
    w, b = fit_logistic(x, y, np.ones(len(y)), l2=0.01)
    assert w == pytest.approx([2.0, -1.0, 0.0], abs=0.12)
    assert b == pytest.approx(0.5, abs=0.1)


def test_sample_weights_count_like_repeated_examples():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] + rng.normal(size=300) > 0).astype(float)
    weight = rng.integers(1, 4, size=300).astype(float)
    once = fit_logistic(x, y, weight, l2=0.5)
    repeated = fit_logistic(
        np.repeat(x, weight.astype(int), axis=0),
        np.repeat(y, weight.astype(int)),
        np.ones(int(weight.sum())),
        l2=0.5,
    )
    assert once[0] == pytest.approx(repeated[0], abs=1e-6)


def test_scorer_file_round_trip_and_refusals(tmp_path):
    rng = np.random.default_rng(1)
    from bot.retrieval.scorer import FEATURES

    x = rng.normal(size=(200, len(FEATURES)))
    y = (x[:, 0] > 0).astype(float)
    scorer = Scorer.fit(x, y, np.ones(200), Thresholds(0.8, 0.1, 0.5), "a" * 64, "model-1")
    scorer.save(tmp_path)
    again = Scorer.load(tmp_path / FILE, "a" * 64, "model-1")
    assert np.allclose(again.probabilities(x[:5]), scorer.probabilities(x[:5]))
    assert again.thresholds == Thresholds(0.8, 0.1, 0.5)
    with pytest.raises(ScorerProblem, match="another knowledge version"):
        Scorer.load(tmp_path / FILE, "b" * 64, "model-1")
    with pytest.raises(ScorerProblem, match="model 'model-1', not 'model-2'"):
        Scorer.load(tmp_path / FILE, "a" * 64, "model-2")
    data = json.loads((tmp_path / FILE).read_text())
    data["features"] = data["features"][:-1]
    (tmp_path / FILE).write_text(json.dumps(data))
    with pytest.raises(ScorerProblem, match="another version of the program"):
        Scorer.load(tmp_path / FILE, "a" * 64, "model-1")


def test_reindex_trains_a_scorer_into_the_version(settings, embedder, scored):
    version = load_index(settings.index_dir, embedder.model_id)
    assert version.scorer is not None
    assert FILE in version.manifest["sha256"]
    report = version.manifest["scorer"]
    assert report["labelled"] == len(LABELLED) and report["not_about"] == 2  # the Russian block's
    assert report["paraphrases"] >= 100  # every question and title
    assistant = Assistant(settings, embedder)
    result = assistant.ask("как оплатить патент за следующий месяц")
    assert result.decision == "answer" and result.entry_id == "patent-payment"
    assert all(0.0 <= c.score <= 1.0 for c in result.ranking)


def test_near_miss_is_refused_where_similarity_alone_answers(
    settings, make_settings, embedder, scored
):
    question = "как получить патент на изобретение в россии"
    learned = Assistant(settings, embedder).ask(question)
    assert learned.decision != "answer"
    from tests.retrieval.test_search import FIXTURE_THRESHOLDS

    plain = Assistant(make_settings(scorer=False, **FIXTURE_THRESHOLDS), embedder).ask(question)
    assert plain.ranking[0].entry_id == "patent-payment"  # what the scorer has to overrule
    assert plain.ranking[0].score > FIXTURE_THRESHOLDS["answer_threshold"] - 0.05


def test_training_is_deterministic(settings, embedder, scored):
    first = (scored.path / FILE).read_bytes()
    again = _build(settings, embedder, force=True)
    assert again.version != scored.version
    assert (again.path / FILE).read_bytes() == first


def test_batched_and_single_paths_rank_alike_with_the_scorer(settings, embedder, scored):
    from tests.retrieval.test_batching import QUESTIONS, _summary

    single = Assistant(settings.model_copy(update={"answer_cache_size": 0}), embedder)
    batched = Assistant(settings.model_copy(update={"answer_cache_size": 0}), embedder)
    one_by_one = [_summary(single.ask(text, lang=lang)) for text, lang in QUESTIONS]
    together = batched.ask_many([Question(text, lang) for text, lang in QUESTIONS])
    assert [_summary(r) for r in together] == one_by_one


def test_a_scorer_from_another_knowledge_version_is_refused(settings, embedder, scored, built):
    """A scorer.json copied into a version it was not trained for (its checksum made to
    match, so only the knowledge hash can tell) is refused, and the assistant keeps the
    older version."""
    other = built.path  # the version before: other knowledge (no not_about, no scorer)
    (other / FILE).write_bytes((scored.path / FILE).read_bytes())
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["sha256"][FILE] = file_sha256(other / FILE)
    (other / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndex, match="trained for another knowledge version"):
        load_index(settings.index_dir, embedder.model_id, other.name)


def test_an_entry_only_a_clause_finds_still_gets_the_country_check(settings, embedder):
    """Evidence from hand-made vectors in a real FAISS index: the whole message finds
    only the Russian entry, a clause only the Kazakh one; the question names Russia, so
    the Kazakh entry is about another country even though only the clause found it."""
    import faiss

    from bot.knowledge.validation import load_kb
    from bot.retrieval.index import IndexVersion, Row
    from bot.retrieval.ranking import Ranker
    from tests.conftest import FIXTURE_KB

    kb = load_kb(FIXTURE_KB, settings.kb_languages)
    # more Russian rows than the search returns, so the whole message's results hold
    # no Kazakh row at all
    rows = [Row("kz-stay", "ru", "question", "сколько дней в казахстане")] + [
        Row("patent-payment", "ru", "question", f"оплата патента {i}") for i in range(70)
    ]
    dim = len(rows)
    index = faiss.IndexFlatIP(dim)
    index.add(np.eye(dim, dtype=np.float32))
    ranker = Ranker(IndexVersion("v", settings.data_dir, {}, index, rows, kb), embedder, settings)
    whole = np.zeros((1, dim), dtype=np.float32)
    whole[0, 1:] = 1 / np.sqrt(dim - 1)  # near every Russian row, orthogonal to the Kazakh
    clause = np.eye(dim, dtype=np.float32)[[0]]
    question = ["я в россии работаю, оплата патента. а ещё вопрос про другое"]
    (ev,) = ranker.evidence_many([question[:1]], [["другое"]], np.vstack([whole, clause]))
    assert set(ev.dense) == {"patent-payment", "kz-stay"}
    assert ev.foreign == {"kz-stay"}
    assert ev.lang == "ru" and ev.long
