"""Opening the assistant and rebuilding its index: what every front end needs.

The CLI, the terminal chat and the Telegram bot all start the same way (load the index
version in service, building the first one when there is none) and reindex the same
way (validate, embed what changed, switch atomically), so both live here, below the
front ends, and neither front end imports the other.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.errors import ConfigError
from bot.settings import Settings

if TYPE_CHECKING:  # the model and FAISS load only when a command needs them
    from bot.retrieval.assistant import Assistant
    from bot.retrieval.index import BuildReport

log = logging.getLogger(__name__)


def reindex(
    settings: Settings,
    *,
    quiet: bool = True,
    force: bool = False,
    report: Callable[[str, int, int], None] | None = None,
) -> BuildReport:
    """Validate knowledge/, build a new index version beside the old ones and switch to
    it (`bot.retrieval.index.build_index`); a progress bar on stderr unless `quiet`.
    `report(stage, done, total)` is told each step ("embedding" with the texts embedded
    so far, then "training"), for a front end that shows progress (the staff console).
    Raises `InvalidKnowledgeBase` (nothing changed) when the knowledge base has errors."""
    from tqdm import tqdm

    from bot.retrieval.embed import make_embedder
    from bot.retrieval.index import IndexVersion, build_index
    from bot.retrieval.scorer import Scorer
    from bot.retrieval.training import train_scorer

    embedder = make_embedder(settings)
    bar = None

    def progress(total: int, _done: int) -> Callable[[int], None] | None:
        nonlocal bar
        if report is not None:
            done = 0
            report("embedding", 0, total)

            def told(n: int) -> None:
                nonlocal done
                done += n
                report("embedding", done, total)

            return told
        if quiet or total == 0:
            return None
        bar = tqdm(total=total, desc="embedding new texts", unit="text", file=sys.stderr)

        def tick(n: int) -> None:
            if bar is not None:
                bar.update(n)

        return tick

    def train(version: IndexVersion) -> Scorer:
        if report is not None:
            report("training", 0, 0)
        return train_scorer(version, embedder, settings, settings.cache_path)

    try:
        return build_index(
            settings.kb_dir,
            settings.index_dir,
            embedder,
            settings.cache_path,
            settings.kb_languages,
            progress=progress,
            force=force,
            train=train if settings.scorer else None,
        )
    finally:
        if bar is not None:
            bar.close()


def open_assistant(settings: Settings, *, build_if_missing: bool = False) -> Assistant:
    """The assistant on the index version in service. With `build_if_missing`, a fresh
    machine builds its first version (a few minutes, with a progress bar) instead of
    failing with `IndexNotFound`."""
    from bot.retrieval.assistant import Assistant
    from bot.retrieval.index import CorruptIndex, IndexNotFound

    try:
        return Assistant(settings)
    except IndexNotFound:
        if not build_if_missing:
            raise
        print("No search index yet: building it now (one time, a few minutes).", file=sys.stderr)
        print(reindex(settings, quiet=False).summary())
        return Assistant(settings)
    except CorruptIndex as exc:
        # No version on disk is usable (every one damaged): rebuild from knowledge/
        # (embeddings come from the cache, so this is quick) rather than not start.
        if not build_if_missing:
            raise
        log.error("no usable index version (%s); rebuilding from %s", exc, settings.kb_dir)
        print(reindex(settings, quiet=True, force=True).summary())
        return Assistant(settings)


def check_ready(settings: Settings) -> None:
    """What a long-running process needs before it takes its first question: the
    knowledge folder and a deadline rule book that loads. Raises `ConfigError` with one
    message saying what is missing and where it was looked for, so that a wrong KB_DIR
    stops the start instead of breaking every deadline calculation later, silently.
    (The index is checked by `open_assistant`, which builds the first one.)"""
    from bot.deadlines.rulebook import InvalidRules, load_rules, rules_dir_for

    kb_dir = settings.kb_dir
    if not kb_dir.is_dir() or not any(kb_dir.glob("*.yaml")):
        raise ConfigError(
            f"no knowledge entries in {kb_dir}: set KB_DIR (relative paths start at "
            "PROJECT_ROOT, the source checkout by default) to the folder of the *.yaml "
            "entries"
        )
    try:
        load_rules(rules_dir_for(kb_dir))
    except InvalidRules as exc:
        first = exc.problems[0] if exc.problems else "unknown problem"
        raise ConfigError(
            f"the deadline rules in {rules_dir_for(kb_dir)} cannot be used "
            f"({len(exc.problems)} error(s), the first: {first}); run `migrant-bot kb "
            "check` and fix them, or point KB_DIR at the knowledge folder that has them"
        ) from exc
