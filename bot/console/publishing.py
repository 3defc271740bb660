"""Publish: validate knowledge/, build a new index version and switch to it, from the
browser, with progress and the result.

It is the same `bot.service.reindex` as `migrant-bot reindex`: a failed build (an
entry with errors, a model that cannot load) writes nothing and the service stays on
the version it had, and the bot's workers notice a new version within seconds by
themselves. One publish at a time across every console worker (a lock file in
DATA_DIR/console); its state is a small JSON file beside it, so every worker shows the
same progress.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

from bot.console.files import console_dir, locked, write_atomic
from bot.errors import MigrantBotError
from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishState:
    state: str = "idle"  # idle | running | done | failed
    stage: str = ""  # checking | embedding | training | switching
    done: int = 0
    total: int = 0
    started: str = ""
    finished: str = ""
    message: str = ""  # the build's summary, or what went wrong and what to do
    role: str = ""
    staff: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"


Build = Callable[[Settings, Callable[[str, int, int], None]], str]


def _build(settings: Settings, report: Callable[[str, int, int], None]) -> str:
    from bot.service import reindex

    return reindex(settings, quiet=True, report=report).summary()


class Publisher:
    def __init__(self, settings: Settings, build: Build = _build) -> None:
        self.settings = settings
        folder = console_dir(settings.data_dir)
        self._state_path = folder / "publish.json"
        self._lock_path = folder / "publish"
        self._build = build
        self._thread: threading.Thread | None = None

    def state(self) -> PublishState:
        try:
            state = PublishState(**json.loads(self._state_path.read_text(encoding="utf-8")))
        except (FileNotFoundError, ValueError, TypeError):
            return PublishState()
        if state.running and not self._someone_building():
            # The worker that ran it died mid-build: nothing was switched.
            return replace(
                state,
                state="failed",
                message="the build stopped before it "
                "finished (the console was restarted); the service stays on "
                "the previous version. Publish again.",
            )
        return state

    def start(self, role: str, staff: str) -> bool:
        """Start a build in a background thread; False when one is already running."""
        if self._thread is not None and self._thread.is_alive():
            return False
        ready = threading.Event()
        took: list[bool] = []

        def run() -> None:
            with locked(self._lock_path, blocking=False) as mine:
                if mine:  # "running" is on disk before the page that follows reads it
                    state = PublishState("running", "checking", started=_now(), role=role,
                                         staff=staff)  # fmt: skip
                    self._save(state)
                took.append(mine)
                ready.set()
                if mine:
                    self._run(state)

        self._thread = threading.Thread(target=run, name="console-publish", daemon=True)
        self._thread.start()
        ready.wait(30)
        return bool(took and took[0])

    def wait(self, timeout: float | None = None) -> PublishState:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state()

    def _someone_building(self) -> bool:
        if self._thread is not None and self._thread.is_alive():
            return True
        with locked(self._lock_path, blocking=False) as free:
            return not free

    def _run(self, state: PublishState) -> None:
        def report(stage: str, done: int, total: int) -> None:
            nonlocal state
            state = replace(state, stage=stage, done=done, total=total)
            self._save(state)

        try:
            summary = self._build(self.settings, report)
        except MigrantBotError as exc:
            state = replace(state, state="failed", finished=_now(), message=str(exc))
        except Exception as exc:  # noqa: BLE001 - shown to staff, logged for ops
            log.exception("publish failed")
            state = replace(
                state,
                state="failed",
                finished=_now(),
                message=f"the build failed ({type(exc).__name__}: {exc}); the service stays "
                "on the previous version. Ops: see the console's log.",
            )
        else:
            state = replace(state, state="done", stage="switched", finished=_now(), message=summary)
        self._save(state)

    def _save(self, state: PublishState) -> None:
        write_atomic(self._state_path, json.dumps(asdict(state), ensure_ascii=False))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
