"""Prometheus metrics for ops (GET /metrics on the webhook server, or on METRICS_PORT in
polling mode): questions by decision and language, questions in flight, reply latency,
overload notices, Bot API errors by code, redelivered updates, reminders, and the index
version in service. One registry per process (tests run several bots in one)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE  # noqa: F401 (re-export)
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Reply latency buckets, seconds: the phone user's scale, from instant to given up.
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.questions = Counter(
            "migrant_bot_questions", "Questions by decision and language", ["decision", "lang"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "migrant_bot_reply_seconds", "From a question's arrival to its reply",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "migrant_bot_questions_in_flight", "Questions being answered now", registry=r
        )
        self.overload = Counter(
            "migrant_bot_overload_replies",
            "Overload replies (notice, late_notice: the answer follows; shed: asked to try again)",
            ["kind"], registry=r,
        )  # fmt: skip
        self.api_errors = Counter(
            "migrant_bot_bot_api_errors", "Bot API errors by HTTP code", ["code"], registry=r
        )
        self.redelivered = Counter(
            "migrant_bot_updates_redelivered", "Updates delivered again and not re-handled",
            registry=r,
        )  # fmt: skip
        self.reminders = Counter(
            "migrant_bot_reminders", "Reminders by outcome (claimed, sent, blocked, "
            "released, failed, maybe_duplicate: sent again after a crash cut off a "
            "delivery)", ["outcome"], registry=r,
        )  # fmt: skip
        self.index = Gauge(
            "migrant_bot_index_version", "1 for the index version in service", ["version"],
            registry=r,
        )  # fmt: skip

    def render(self, index_version: str | None = None) -> bytes:
        if index_version is not None:
            self.index.clear()
            self.index.labels(version=index_version).set(1)
        return generate_latest(self.registry)
