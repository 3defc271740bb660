"""Shared fixtures: a copy of the small fixture knowledge base, settings pointing at a
temporary data folder, and the real default embedder (loaded once per session)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from bot.retrieval.embed import make_embedder
from bot.retrieval.index import build_index
from bot.settings import Settings

FIXTURE_KB = Path(__file__).parent / "fixtures" / "kb"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(FIXTURE_KB, target)
    return target


@pytest.fixture
def with_rules(kb_dir: Path) -> Path:
    """The fixture knowledge base with the repository's deadline rules beside it, as a
    deployment has them (`migrant-bot run` refuses to start without)."""
    shutil.copytree(REPO / "knowledge" / "rules", kb_dir / "rules")
    return kb_dir


@pytest.fixture
def make_settings(kb_dir: Path, tmp_path: Path):
    def make(**overrides) -> Settings:
        values = {"kb_dir": kb_dir, "data_dir": tmp_path / "var", "index_check_interval": 0.0}
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def embedder():
    return make_embedder(Settings(_env_file=None))


@pytest.fixture(scope="session")
def _prebuilt(tmp_path_factory, embedder):
    data_dir = tmp_path_factory.mktemp("prebuilt") / "var"
    report = build_index(
        FIXTURE_KB,
        data_dir / "index",
        embedder,
        data_dir / "embeddings.sqlite",
        Settings(_env_file=None).kb_languages,
    )
    return data_dir, report


@pytest.fixture
def built(settings: Settings, _prebuilt):
    """The fixture knowledge base indexed with the real model (built once per session,
    copied for each test so tests can change it freely)."""
    data_dir, report = _prebuilt
    shutil.copytree(data_dir, settings.data_dir)
    return dataclasses.replace(report, path=settings.index_dir / report.version)
