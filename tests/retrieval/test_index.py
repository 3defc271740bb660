"""Index building with the real model and FAISS: versions, atomic switch, cache,
refusals."""

import json
import os

import faiss
import numpy as np
import pytest

from bot.knowledge.validation import InvalidKnowledgeBase
from bot.retrieval import index as index_module
from bot.retrieval.index import (
    POINTER,
    CorruptIndex,
    IndexNotFound,
    ModelMismatch,
    build_index,
    current_version_name,
    list_versions,
    load_index,
    switch_to,
)
from bot.retrieval.language import NGRAM_FILE


def rebuild(settings, embedder, **kw):
    return build_index(
        settings.kb_dir,
        settings.index_dir,
        embedder,
        settings.cache_path,
        settings.kb_languages,
        **kw,
    )


def test_build_writes_a_version_with_manifest(settings, embedder, built):
    assert current_version_name(settings.index_dir) == built.version
    version = load_index(settings.index_dir, embedder.model_id)
    manifest = version.manifest
    assert manifest["model_id"] == embedder.model_id
    assert manifest["dim"] == embedder.dim == version.index.d
    assert manifest["counts"]["entries"] == 4
    assert version.index.ntotal == len(version.rows) == manifest["counts"]["rows"]
    assert set(manifest["counts"]["by_lang"]) == {"ru", "kk", "uz", "ky", "tg", "en"}
    assert len(manifest["kb_hash"]) == 64
    assert built.embedded == built.rows and built.cached == 0


def test_unchanged_knowledge_builds_nothing(settings, embedder, built):
    again = rebuild(settings, embedder)
    assert again.unchanged and again.version == built.version
    assert list_versions(settings.index_dir) == [built.version]
    assert "nothing to do" in again.summary()


def test_new_language_counts_call_for_a_new_version(settings, embedder, built, monkeypatch):
    # The detector decides how questions are searched and what the scorer learns from.
    counts = settings.data_dir / "recounted.json"
    counts.write_text(NGRAM_FILE.read_text(encoding="utf-8") + " ", encoding="utf-8")
    monkeypatch.setattr(index_module, "NGRAM_FILE", counts)
    again = rebuild(settings, embedder)
    assert not again.unchanged and again.version != built.version


def test_unchanged_texts_are_not_embedded_again(settings, embedder, built):
    again = rebuild(settings, embedder, force=True)
    assert not again.unchanged and again.version != built.version
    assert again.embedded == 0
    assert again.cached == built.rows
    # one changed paraphrase: exactly one new embedding
    f = settings.kb_dir / "kz-stay.yaml"
    f.write_text(f.read_text().replace("kazakhstan stay limit", "kazakhstan stay limit rules"))
    third = rebuild(settings, embedder)
    assert third.embedded == 1


def test_new_version_is_built_beside_the_old_and_switched(settings, embedder, built):
    first = built.version
    f = settings.kb_dir / "kz-stay.yaml"
    f.write_text(f.read_text().replace("kazakhstan stay limit", "stay limit in kazakhstan"))
    second = rebuild(settings, embedder)
    assert second.previous == first
    assert current_version_name(settings.index_dir) == second.version
    assert {first, second.version} <= set(list_versions(settings.index_dir))
    # the pointer is a complete file after the switch, never a partial write
    assert (settings.index_dir / POINTER).read_text().strip() == second.version
    assert not list(settings.index_dir.glob(".pointer-*"))
    assert not list(settings.index_dir.glob(".building-*"))
    # roll back
    switch_to(settings.index_dir, first)
    assert load_index(settings.index_dir, embedder.model_id).name == first


def test_old_versions_are_pruned(settings, embedder, built):
    f = settings.kb_dir / "kz-stay.yaml"
    names = [built.version]
    for i in range(4):
        f.write_text(f.read_text().replace("kazakhstan stay limit", f"kazakhstan stay limit{i}"))
        names.append(rebuild(settings, embedder, keep=2).version)
    assert list_versions(settings.index_dir) == sorted(names[-2:])


def test_invalid_kb_is_refused_and_the_index_is_untouched(settings, embedder, built):
    before = sorted(os.listdir(settings.index_dir))
    f = settings.kb_dir / "kz-stay.yaml"
    f.write_text(f.read_text().replace("status: reviewed", "status: maybe"))
    with pytest.raises(InvalidKnowledgeBase) as info:
        rebuild(settings, embedder)
    assert "kz-stay.yaml" in str(info.value)
    assert sorted(os.listdir(settings.index_dir)) == before
    assert current_version_name(settings.index_dir) == built.version


def test_index_from_another_model_is_an_error(settings, embedder, built):
    with pytest.raises(ModelMismatch) as info:
        load_index(settings.index_dir, "sentence-transformers/other-model")
    assert embedder.model_id in str(info.value) and "reindex" in str(info.value)


def test_missing_index_says_how_to_build_it(settings, embedder):
    with pytest.raises(IndexNotFound, match="migrant-bot reindex"):
        load_index(settings.index_dir, embedder.model_id)


@pytest.mark.parametrize("damage", ["truncate_faiss", "bad_json", "missing_rows", "wrong_count"])
def test_corrupted_index_is_refused(settings, embedder, built, damage):
    path = built.path
    if damage == "truncate_faiss":
        (path / "index.faiss").write_bytes((path / "index.faiss").read_bytes()[:100])
    elif damage == "bad_json":
        (path / "manifest.json").write_text("{not json")
    elif damage == "missing_rows":
        (path / "rows.json").unlink()
    else:
        index = faiss.read_index(str(path / "index.faiss"))
        index.remove_ids(faiss.IDSelectorRange(0, 5))
        faiss.write_index(index, str(path / "index.faiss"))
    with pytest.raises(CorruptIndex):
        load_index(settings.index_dir, embedder.model_id)


def test_version_carries_its_own_knowledge_snapshot(settings, embedder, built):
    f = settings.kb_dir / "kz-stay.yaml"
    f.write_text(f.read_text().replace("Extend your stay before it ends.", "Changed answer."))
    version = load_index(settings.index_dir, embedder.model_id)
    assert "Extend your stay" in version.kb["kz-stay"].text["en"].answer
    rows = json.loads((built.path / "rows.json").read_text())
    assert {r["kind"] for r in rows} == {"title", "question", "answer"}


def zero_vectors(path) -> None:
    """Zero-fill the vectors of index.faiss, keeping its header: the damage the fault
    run of issue 16 found served silently."""
    index = faiss.read_index(str(path / "index.faiss"))
    zeroed = faiss.IndexFlatIP(index.d)
    zeroed.add(np.zeros((index.ntotal, index.d), dtype="float32"))
    faiss.write_index(zeroed, str(path / "index.faiss"))


def test_zero_filled_vectors_are_refused_by_checksum(settings, embedder, built):
    manifest = json.loads((built.path / "manifest.json").read_text())
    assert set(manifest["sha256"]) == {"index.faiss", "rows.json", "entries.json"}
    zero_vectors(built.path)
    with pytest.raises(CorruptIndex, match="index.faiss does not match its checksum"):
        load_index(settings.index_dir, embedder.model_id)
    with pytest.raises(CorruptIndex):
        switch_to(settings.index_dir, built.version)  # nor chosen by hand


def test_a_version_without_checksums_is_still_checked_for_unit_vectors(settings, embedder, built):
    manifest_path = built.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["sha256"]  # as built before checksums
    manifest_path.write_text(json.dumps(manifest))
    assert load_index(settings.index_dir, embedder.model_id).name == built.version
    zero_vectors(built.path)
    with pytest.raises(CorruptIndex, match="not unit vectors"):
        load_index(settings.index_dir, embedder.model_id)


def test_a_damaged_version_is_not_kept_as_a_rollback_target(settings, embedder, built):
    kz = settings.kb_dir / "kz-stay.yaml"
    kz.write_text(kz.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    report = rebuild(settings, embedder, force=True)
    assert built.version in list_versions(settings.index_dir)
    zero_vectors(built.path)
    rebuild(settings, embedder, force=True)  # pruning looks at every older version
    assert built.version not in list_versions(settings.index_dir)
    assert report.version in list_versions(settings.index_dir)


def test_with_no_usable_version_the_service_rebuilds_at_start(settings, embedder, built):
    from bot.service import open_assistant

    zero_vectors(built.path)
    assistant = open_assistant(settings, build_if_missing=True)
    try:
        assert assistant.version.name != built.version
        assert assistant.ask("как оплатить патент").entry_id == "patent-payment"
    finally:
        assistant.close()
