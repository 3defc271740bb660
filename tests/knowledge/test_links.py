"""`kb links` against a local HTTP server (never the internet)."""

import asyncio
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.cli import main
from bot.knowledge.links import check_links

HITS: list[tuple[str, str, float]] = []


class Handler(BaseHTTPRequestHandler):
    routes = {
        "/ok": (200, None),
        "/moved": (301, "/ok"),
        "/moved-twice": (308, "/temp"),
        "/temp": (302, "/ok"),
        "/gone": (404, None),
        "/broken": (500, None),
        "/loop": (302, "/loop"),
    }

    def _reply(self, method):
        HITS.append((method, self.path, time.monotonic()))
        if self.path == "/no-head" and method == "HEAD":
            self.send_response(405)
            self.end_headers()
            return
        if self.path == "/no-head":
            code, location = 200, None
        else:
            code, location = self.routes.get(self.path, (404, None))
        self.send_response(code)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        self._reply("HEAD")

    def do_GET(self):
        self._reply("GET")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(urls, **kw):
    return {r.url: r for r in asyncio.run(check_links(urls, **kw))}


def test_states(server):
    dead_host = f"http://127.0.0.1:{closed_port()}/x"
    paths = ["/ok", "/moved", "/moved-twice", "/temp", "/gone", "/broken", "/no-head", "/loop"]
    urls = {server + p: ["entry-a"] for p in paths}
    urls[dead_host] = ["entry-b"]
    results = run(urls, interval=0.0, timeout=3)
    state = {u.removeprefix(server): r.state for u, r in results.items()}
    assert state["/ok"] == "ok"
    assert state["/moved"] == "moved" and results[server + "/moved"].final_url == server + "/ok"
    assert state["/moved-twice"] == "moved"  # the first hop is permanent
    assert state["/temp"] == "redirected"
    assert state["/gone"] == "dead" and results[server + "/gone"].code == 404
    assert state["/broken"] == "dead"
    assert state["/no-head"] == "ok"  # HEAD refused, GET answered
    assert state["/loop"] == "dead" and "redirects" in results[server + "/loop"].detail
    assert results[dead_host].state == "unreachable"
    assert results[dead_host].entries == ["entry-b"]


def test_one_host_is_not_hammered(server):
    HITS.clear()
    urls = {f"{server}/ok?{i}": ["e"] for i in range(4)}
    run(urls, concurrency=4, interval=0.2)
    times = sorted(t for _, _, t in HITS)
    assert len(times) == 4
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.18


def test_cli_reports_and_fails_on_dead_links(kb_dir, server, monkeypatch, capsys):
    f = kb_dir / "kz-stay.yaml"
    f.write_text(f.read_text().replace("https://example.org/kz-stay", f"{server}/gone"))
    for name, url, path in (
        ("patent-payment", "https://example.org/patent-payment", "/ok"),
        ("registration-deadline", "https://example.org/registration", "/moved"),
    ):
        g = kb_dir / f"{name}.yaml"
        g.write_text(g.read_text().replace(url, server + path))
    monkeypatch.setenv("KB_DIR", str(kb_dir))
    assert main(["kb", "links", "--interval", "0", "--timeout", "3"]) == 1
    out = capsys.readouterr().out
    assert f"dead         404  {server}/gone" in out and "[kz-stay]" in out
    assert "moved" in out and "1 dead" in out
