"""Check every source URL of the knowledge base: dead, moved or redirected.

Official portals move pages often, and a citation that 404s undermines an answer that
is right. This runs concurrently but politely: a few requests at a time, at most one
request per host per `interval` seconds, a timeout on each, HEAD first and GET only when
a server refuses HEAD. Redirects are followed by hand so the report can tell a
permanent move (301/308: update the link) from a temporary redirect (302/303/307).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from bot.knowledge.entries import KnowledgeBase

USER_AGENT = "migrant-bot-link-check/0.1 (knowledge base source check)"
PERMANENT = {301, 308}
TEMPORARY = {302, 303, 307}


@dataclass
class LinkResult:
    url: str
    state: str  # ok | moved | redirected | dead | unreachable
    code: int | None = None
    final_url: str = ""
    detail: str = ""
    entries: list[str] = field(default_factory=list)

    @property
    def broken(self) -> bool:
        return self.state in ("dead", "unreachable")


def source_urls(kb: KnowledgeBase) -> dict[str, list[str]]:
    """URL -> ids of the entries citing it."""
    urls: dict[str, list[str]] = {}
    for entry in kb:
        for source in entry.sources:
            users = urls.setdefault(source.url, [])
            if entry.id not in users:
                users.append(entry.id)
    return urls


class _Polite:
    """At most `limit` requests in flight; one per host every `interval` seconds."""

    def __init__(self, limit: int, interval: float):
        self.slots = asyncio.Semaphore(limit)
        self.interval = interval
        self.host_locks: dict[str, asyncio.Lock] = {}
        self.last: dict[str, float] = {}

    async def wait_turn(self, url: str) -> asyncio.Lock:
        host = urlsplit(url).netloc
        lock = self.host_locks.setdefault(host, asyncio.Lock())
        await lock.acquire()
        delay = self.last.get(host, 0.0) + self.interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return lock

    def done(self, url: str, lock: asyncio.Lock) -> None:
        self.last[urlsplit(url).netloc] = time.monotonic()
        lock.release()


async def _request(client: httpx.AsyncClient, polite: _Polite, url: str) -> httpx.Response:
    lock = await polite.wait_turn(url)
    try:
        response = await client.head(url)
        if response.status_code in (403, 405, 501) or response.status_code >= 500:
            # many servers refuse or mishandle HEAD: ask again with GET, body unread
            async with client.stream("GET", url) as streamed:
                response = streamed
        return response
    finally:
        polite.done(url, lock)


async def _check_one(
    client: httpx.AsyncClient, polite: _Polite, url: str, entries: list[str], max_redirects: int
) -> LinkResult:
    async with polite.slots:
        current, first_redirect = url, None
        try:
            for _ in range(max_redirects + 1):
                response = await _request(client, polite, current)
                code = response.status_code
                if code in PERMANENT | TEMPORARY and "location" in response.headers:
                    first_redirect = first_redirect or code
                    current = urljoin(current, response.headers["location"])
                    continue
                if code >= 400:
                    return LinkResult(url, "dead", code, current, f"HTTP {code}", entries)
                if first_redirect in PERMANENT:
                    return LinkResult(
                        url,
                        "moved",
                        code,
                        current,
                        f"permanently moved ({first_redirect}): update the link",
                        entries,
                    )
                if first_redirect:
                    return LinkResult(
                        url,
                        "redirected",
                        code,
                        current,
                        f"temporary redirect ({first_redirect})",
                        entries,
                    )
                return LinkResult(url, "ok", code, current, "", entries)
            return LinkResult(
                url, "dead", None, current, f"more than {max_redirects} redirects", entries
            )
        except httpx.TimeoutException:
            return LinkResult(url, "unreachable", None, current, "timed out", entries)
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            return LinkResult(url, "unreachable", None, current, f"{reason}: {exc}", entries)


async def check_links(
    urls: dict[str, list[str]],
    concurrency: int = 4,
    timeout: float = 15.0,
    interval: float = 1.0,
    max_redirects: int = 5,
) -> list[LinkResult]:
    polite = _Polite(concurrency, interval)
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}
    ) as client:
        results = await asyncio.gather(
            *(_check_one(client, polite, u, e, max_redirects) for u, e in urls.items())
        )
    order = {"dead": 0, "unreachable": 1, "moved": 2, "redirected": 3, "ok": 4}
    return sorted(results, key=lambda r: (order[r.state], r.url))


def format_results(results: Iterable[LinkResult]) -> str:
    lines = []
    for r in results:
        code = r.code if r.code is not None else "-"
        where = ", ".join(r.entries)
        extra = f" -> {r.final_url}" if r.final_url and r.final_url != r.url else ""
        detail = f" ({r.detail})" if r.detail else ""
        lines.append(f"{r.state:<11} {code!s:>4}  {r.url}{extra}{detail}  [{where}]")
    return "\n".join(lines)
