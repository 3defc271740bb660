"""Threshold calibration keeps the service's floor (few wrong answers, out-of-scope
questions refused), whatever the utility would prefer."""

import pytest

from bot.knowledge.labelled import BadQuestionsFile, Question, read_questions
from bot.retrieval import evaluate
from bot.retrieval.evaluate import Outcome, calibrate, redecide, score_group
from bot.retrieval.results import Candidate
from bot.settings import Settings


def outcome(n: int, expected: tuple[str, ...], scores: list[tuple[str, float]]) -> Outcome:
    ranked = [Candidate(e, s) for e, s in scores]
    q = Question(f"q{n}", expected, "ru", n)
    return Outcome(q, "ru", "answer", ranked[0].entry_id, [c.entry_id for c in ranked], ranked, 0)


def clear_right(start: int, count: int) -> list[Outcome]:
    return [outcome(start + i, ("a",), [("a", 1.2), ("b", 0.8)]) for i in range(count)]


def test_out_of_scope_questions_are_refused_even_when_offering_topics_pays_more():
    # 20 in-scope questions with two close candidates (offering both earns 0.5 each) and
    # 4 out-of-scope ones looking just like them (offering topics costs 0.5 each): the
    # utility alone would offer topics to all, refusing none of the out-of-scope ones.
    close = [outcome(100 + i, ("a",), [("a", 0.9), ("b", 0.895)]) for i in range(20)]
    oos = [outcome(200 + i, (), [("a", 0.9), ("b", 0.895)]) for i in range(4)]
    outcomes = clear_right(0, 10) + close + oos
    settings = Settings()

    thresholds, _ = calibrate(outcomes, settings)
    report = score_group(redecide(outcomes, settings.model_copy(update=thresholds)))
    assert report["oos_abstain_rate"] >= evaluate.MIN_OOS_ABSTAIN_RATE
    assert report["answered_correct"] == round(10 / 30, 4)  # the clear ones are answered


def test_without_the_floor_the_same_set_offers_topics_to_out_of_scope_questions(monkeypatch):
    close = [outcome(100 + i, ("a",), [("a", 0.9), ("b", 0.895)]) for i in range(20)]
    oos = [outcome(200 + i, (), [("a", 0.9), ("b", 0.895)]) for i in range(4)]
    outcomes = clear_right(0, 10) + close + oos
    settings = Settings()
    monkeypatch.setattr(evaluate, "MIN_OOS_ABSTAIN_RATE", 0.0)
    thresholds, _ = calibrate(outcomes, settings)
    report = score_group(redecide(outcomes, settings.model_copy(update=thresholds)))
    assert report["oos_abstain_rate"] == 0.0  # the floor above is what made the difference


def test_wrong_answers_stay_under_the_floor_even_when_answering_pays():
    # 18 right and 2 wrong at the same score: answering them all earns 18 - 2 x 5 = +8,
    # but 2 wrong answers out of 28 in-scope questions is over 5%.
    middling = [outcome(100 + i, ("a",), [("a", 0.95), ("b", 0.7)]) for i in range(18)]
    wrong = [outcome(200 + i, ("b",), [("a", 0.95), ("b", 0.7)]) for i in range(2)]
    outcomes = clear_right(0, 8) + middling + wrong
    settings = Settings()
    thresholds, _ = calibrate(outcomes, settings)
    report = score_group(redecide(outcomes, settings.model_copy(update=thresholds)))
    assert report["wrong_answer_rate"] <= evaluate.MAX_WRONG_ANSWER_RATE
    assert report["answered_correct"] == round(8 / 28, 4)  # the clear ones only


def test_the_floor_is_kept_down_to_never_answering():
    # every out-of-scope question outscores every in-scope one: only refusing to answer
    # anything keeps them refused, and the fit must choose that over answering.
    outcomes = [outcome(i, ("a",), [("a", 0.9), ("b", 0.5)]) for i in range(5)]
    outcomes += [outcome(10 + i, (), [("a", 1.3), ("b", 0.5)]) for i in range(5)]
    settings = Settings()
    thresholds, _ = calibrate(outcomes, settings)
    decided = redecide(outcomes, settings.model_copy(update=thresholds))
    assert all(o.decision == "abstain" for o in decided if not o.question.expected)


def test_the_floor_holds_in_every_language_not_only_on_average():
    # Russian: clear answers and 20 out-of-scope questions far below them. Kazakh: 20
    # in-scope questions and 2 out-of-scope ones all at the same middling score.
    # Answering the Kazakh ones earns 20 - 2 x 6 = +8 and leaves 20 of 22 out-of-scope
    # questions refused overall (91%), but refuses none of the Kazakh ones.
    def in_lang(o: Outcome, lang: str) -> Outcome:
        q = Question(o.question.text, o.question.expected, lang, o.question.line)
        return Outcome(q, lang, o.decision, o.answered, o.ranking, o.scores, 0)

    ru = clear_right(0, 10) + [outcome(100 + i, (), [("a", 0.5), ("b", 0.3)]) for i in range(20)]
    kk = [outcome(200 + i, ("a",), [("a", 1.0), ("b", 0.7)]) for i in range(20)]
    kk += [outcome(300 + i, (), [("a", 1.0), ("b", 0.7)]) for i in range(2)]
    outcomes = ru + [in_lang(o, "kk") for o in kk]
    settings = Settings()
    thresholds, _ = calibrate(outcomes, settings)
    decided = redecide(outcomes, settings.model_copy(update=thresholds))
    kazakh = score_group([o for o in decided if o.lang == "kk"])
    assert kazakh["oos_abstain_rate"] >= evaluate.MIN_OOS_ABSTAIN_RATE
    assert score_group([o for o in decided if o.lang == "ru"])["answered_correct"] == 1.0


def test_reply_lang_counts_the_language_and_the_script_of_uzbek():
    def outcome(text: str, lang: str, reply: str) -> Outcome:
        q = Question(text, ("x",), lang, 1)
        return Outcome(q, lang, "answer", "x", ["x"], [Candidate("x", 1.0)], 1.0, reply)

    outcomes = [
        outcome("patent qancha", "uz", "uz"),  # Latin asked, Latin replied
        outcome("патент қанча", "uz", "uz-cyrl"),  # Cyrillic asked, Cyrillic replied
        outcome("патент қанча", "uz", "uz"),  # Cyrillic asked, Latin replied: wrong
        outcome("сколько стоит патент", "ru", "ru"),
        outcome("иш берувчи ойлик бермаяпти", "uz", "ru"),  # wrong language
    ]
    assert score_group(outcomes)["reply_lang"] == 3 / 5


def test_questions_with_a_style_are_also_reported_by_style(tmp_path):
    lines = [
        '{"text": "patent narxi", "expected": "a", "lang": "uz", "style": "short"}',
        '{"text": "men Moskvada ishlayman, patent qancha?", "expected": "a", "lang": "uz",'
        ' "style": "story"}',
        '{"text": "schengen visa", "expected": null, "lang": "en"}',
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    questions = read_questions(path)
    assert [q.style for q in questions] == ["short", "story", None]
    right = [Candidate("a", 1.0)]
    outcomes = [
        Outcome(questions[0], "uz", "answer", "a", ["a"], right, 1.0, "uz"),
        Outcome(questions[1], "uz", "abstain", None, ["a"], right, 1.0, "uz"),
        Outcome(questions[2], "en", "abstain", None, ["a"], right, 1.0, "en"),
    ]
    rep = evaluate.report(outcomes, "project")
    assert rep["by_style"]["short"]["answered_correct"] == 1.0
    assert rep["by_style"]["story"]["answered_correct"] == 0.0
    assert set(rep["by_style"]) == {"short", "story"}  # unlabelled lines only overall
    assert "~story" in evaluate.format_table([rep])
    (tmp_path / "bad.jsonl").write_text('{"text": "x", "style": 3}\n', encoding="utf-8")
    with pytest.raises(BadQuestionsFile, match="style"):
        read_questions(tmp_path / "bad.jsonl")
