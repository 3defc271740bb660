"""The console served for real: uvicorn on a free loopback port, in a thread with its own
event loop, so a browser (or any HTTP client) talks to it exactly as staff would."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from bot.console.accounts import AccountStore
from bot.console.app import create_app
from bot.settings import Settings

PASSWORD = "correct horse battery"


@dataclass
class Served:
    url: str
    settings: Settings


@pytest.fixture
def served(settings: Settings, built) -> Iterator[Served]:
    """The console over the fixture knowledge base (indexed), with an editor `editor1`
    and a reviewer `lawyer1` (password `PASSWORD`)."""
    store = AccountStore(settings.data_dir)
    store.add("editor1", "editor", PASSWORD)
    store.add("lawyer1", "reviewer", PASSWORD)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
