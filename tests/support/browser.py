"""A real headless Chromium for the staff console tests: Playwright driving Debian's
Chromium.

Playwright cannot download its own browser on our machines (`playwright install`
fails), so it launches the system Chromium (`/usr/bin/chromium` from the Debian packages
`chromium` and `chromium-driver`, or $CHROMIUM) with `executable_path=`. `make test`
installs it with `scripts/install-chromium.sh`; without it (or without Playwright) the
browser tests are skipped, saying why.

The async API, in `async def` tests: Playwright's sync API keeps its own event loop
marked as the thread's running loop between calls, which breaks every pytest-asyncio
test after it (microsoft/playwright-python#1339). A launch takes 0.14-0.26 s here, so
each test starts its own browser and nothing leaks between tests.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Playwright passes most of these itself; they are explicit so that Chromium never makes
# connections of its own (component updates, sync, field trials), which the closed
# network of the build machines refuses, whatever Playwright's defaults become.
LAUNCH_ARGS = [
    "--no-sandbox",  # we run as root in containers, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    """The Chromium to launch ($CHROMIUM or /usr/bin/chromium), or None if it is missing."""
    path = os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM
    return path if Path(path).is_file() and os.access(path, os.X_OK) else None


@contextlib.asynccontextmanager
async def async_browser() -> AsyncIterator[Browser]:
    """A headless Chromium for one test; skips the test when there is none to launch."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[dev]'")
    executable = chromium_path()
    if executable is None:
        wanted = os.environ.get("CHROMIUM") or DEFAULT_CHROMIUM
        pytest.skip(f"no Chromium at {wanted}: run scripts/install-chromium.sh (as root)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()
