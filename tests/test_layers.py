"""The import direction of the package, checked on the source (an ast walk over bot/).

The layers, bottom to top; a module may import its own package and anything lower,
never a layer above it or a sibling of its own layer:

    bot.domain, bot.errors        words of the domain, the exception root
    bot.settings, bot.i18n        configuration, interface texts
    bot.privacy                   salted keys, anonymisation
    bot.knowledge, bot.storage    curated YAML; prefs, reminders, feedback, gaps
    bot.retrieval, bot.deadlines, answering questions; deadline tools; consultants'
    bot.handoff                   opening hours (a route to a person)
    bot.service                   opening the assistant, reindexing
    bot.telegram, bot.console     the only place aiogram is imported; the staff console
    bot.cli                       the front end nothing imports

Benchmarks (bench/) and test support (tests/) are never imported by the package.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from tests.support.paths import REPO

PACKAGE = REPO / "bot"
LAYERS: list[tuple[str, ...]] = [
    ("bot.domain", "bot.errors"),
    ("bot.settings", "bot.i18n"),
    ("bot.privacy",),
    ("bot.knowledge", "bot.storage"),
    ("bot.retrieval", "bot.deadlines", "bot.handoff"),
    ("bot.service",),
    ("bot.telegram", "bot.console"),
    ("bot.cli",),
]
TELEGRAM_LIBRARIES = ("aiogram", "aiohttp")
OUTSIDE = ("bench", "tests")
# Entry points outside the package that must not import the CLI either: they run it.


def unit_of(module: str) -> str:
    """The layer unit a module belongs to: 'bot.retrieval' for 'bot.retrieval.index'."""
    for units in LAYERS:
        for unit in units:
            if module == unit or module.startswith(unit + "."):
                return unit
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS in {__file__}")


def rank_of(unit: str) -> int:
    return next(i for i, units in enumerate(LAYERS) if unit in units)


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, lazy ones inside functions too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "bot":  # from bot import service
                found.extend((node.lineno, f"bot.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, node.module))
    return found


def violations(root: Path = PACKAGE) -> list[str]:
    """Every import in the package `root` that breaks the rules above, as file:line."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        if module == "bot":  # the package's own __init__: imports nothing of its own
            found.extend(
                f"bot/__init__.py:{line}: imports {target} (keep the package root empty)"
                for line, target in imports(path)
                if target.startswith("bot.")
            )
            continue
        unit = unit_of(module)
        for line, target in imports(path):
            where = f"{path.relative_to(root.parent)}:{line}: {module} imports {target}"
            top = target.split(".")[0]
            if top in OUTSIDE:
                found.append(f"{where} (test or benchmark code in the package)")
            if top in TELEGRAM_LIBRARIES and unit != "bot.telegram":
                found.append(f"{where} (only bot.telegram may use {top})")
            if top != "bot":
                continue
            if target == "bot.cli" or target.startswith("bot.cli."):
                found.append(f"{where} (nothing imports the CLI)")
                continue
            if target == "bot":
                continue
            other = unit_of(target)
            if other == unit:
                continue
            if rank_of(other) > rank_of(unit):
                found.append(f"{where} (a layer above)")
            elif rank_of(other) == rank_of(unit):
                found.append(f"{where} (a sibling of the same layer)")
    return found


def test_imports_point_down():
    assert violations() == []


@pytest.mark.parametrize(
    ("module", "source", "reason"),
    [
        ("retrieval/render.py", "from bot.telegram.text import split_html\n", "a layer above"),
        ("retrieval/render.py", "import aiogram\n", "only bot.telegram"),
        ("knowledge/report.py", "from bot.retrieval import index\n", "a layer above"),
        ("deadlines/calculators.py", "from bot.retrieval.index import Row\n", "sibling"),
        ("telegram/app.py", "from bot.cli import main\n", "nothing imports the CLI"),
        ("telegram/app.py", "from tests.support.standin import BotAPIStandIn\n", "test or"),
        ("service.py", "def f():\n    from bot.cli import main\n", "nothing imports"),
    ],
)
def test_the_check_catches_an_import_that_points_the_wrong_way(tmp_path, module, source, reason):
    # A copy of the package with one bad import added must fail the check, so the
    # check above cannot pass by looking at nothing.
    copy = tmp_path / "bot"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text(encoding="utf-8") + "\n" + source, encoding="utf-8")
    found = violations(copy)
    assert any(reason in v for v in found), found
