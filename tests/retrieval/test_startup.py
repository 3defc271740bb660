"""Starting with a damaged index version in service: the assistant serves the newest
older version that loads and says so in the log, instead of refusing to start; with
nothing to fall back to it refuses with the reason."""

import logging

import pytest

from bot.retrieval.assistant import Assistant
from bot.retrieval.index import POINTER, CorruptIndex


def _break_current(settings) -> str:
    broken = settings.index_dir / "20990101T000000000000-broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{}")
    (settings.index_dir / POINTER).write_text(broken.name)
    return broken.name


def test_start_falls_back_to_the_newest_good_version(settings, embedder, built, caplog):
    good = built.version
    broken = _break_current(settings)
    caplog.set_level(logging.ERROR, logger="bot.retrieval.assistant")
    assistant = Assistant(settings, embedder)
    try:
        assert assistant.version.name == good
        assert assistant.ask("how can i pay patent money").index_version == good
        [record] = [r for r in caplog.records if broken in r.getMessage()]
        assert good in record.getMessage() and "reindex" in record.getMessage()
        # the refused version is not retried on every question
        caplog.clear()
        assistant.ask("как заплатить за патент")
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    finally:
        assistant.close()


def test_start_refuses_when_no_version_loads(settings, embedder, built):
    (settings.index_dir / built.version / "index.faiss").write_bytes(b"not an index")
    _break_current(settings)
    with pytest.raises(CorruptIndex):
        Assistant(settings, embedder)
