"""The settings object: relative paths start at the project, not the working directory."""

from __future__ import annotations

import os
import subprocess
import sys

from bot.settings import Settings
from tests.support.paths import REPO


def test_relative_paths_start_at_the_project_wherever_the_process_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a service manager may start the bot from /
    for name in ("KB_DIR", "DATA_DIR", "KB_CATALOGUE", "PROJECT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.kb_dir == REPO / "knowledge"
    assert settings.data_dir == REPO / "var"
    assert settings.kb_catalogue == REPO / ".." / "shared" / "kb" / "topics.yaml"


def test_a_configured_root_and_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_DIR", "entries")
    settings = Settings(_env_file=None, project_root=tmp_path, data_dir=tmp_path / "state")
    assert settings.kb_dir == tmp_path / "entries"  # relative: under PROJECT_ROOT
    assert settings.data_dir == tmp_path / "state"  # absolute: as given


def test_run_refuses_to_start_without_deadline_rules(kb_dir, tmp_path):
    # A knowledge folder without its rules (a wrong KB_DIR, a half copy): the bot would
    # answer questions and fail every deadline calculation later. `run` says so at once.
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        capture_output=True,
        text=True,
        env={**os.environ, "KB_DIR": str(kb_dir), "DATA_DIR": str(tmp_path / "var")},
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()  # one clear message, no traceback
    assert str(kb_dir / "rules") in line and "kb check" in line
    assert not (tmp_path / "var").exists()  # refused before building anything
