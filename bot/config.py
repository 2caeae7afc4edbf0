"""Settings, read from the environment (prefix `BOT_`) or given to `create_app`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; `Settings()` reads `BOT_*` variables and `.env`."""

    model_config = SettingsConfigDict(env_prefix="BOT_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    database_url: str = "sqlite:///bot.db"
    intents_path: Path = Path("intents.yaml")
    models_dir: Path = Path("models")
    pipeline: Literal["light", "encoder", "multilingual"] | None = None
    """What a model trained at start-up is; unset, `training.fit` chooses by the domain's languages
    (`light` for English, `multilingual` for any other or several)."""
    train_if_needed: bool = True
    """Train at start-up when `models/latest` is missing or stale; off, a stale model is refused."""

    watch_models: bool = False
    """Reload by itself when `models/latest` points somewhere new (checked every 2 s)."""

    allow_guests: bool = True
    session_expiry_minutes: float = Field(default=30.0, gt=0)
    max_message_chars: int = Field(default=2000, gt=0)
    max_frame_bytes: int = Field(default=64 * 1024, gt=0)
    max_bad_frames: int = Field(default=10, gt=0)
    """Bad frames in a row before the connection is closed with 1008."""

    typing_after_ms: int = Field(default=200, ge=0)
    """Send a `typing` frame when a reply takes longer than this; 0 sends one for every message."""

    rate_per_second: float = Field(default=5.0, gt=0)
    rate_burst: int = Field(default=20, gt=0)
    max_connections_per_ip: int = Field(default=100, gt=0)
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Origins allowed to open the WebSocket besides the server's own; `*` allows any."""

    token_ttl_hours: float = Field(default=24.0 * 7, gt=0)
    login_attempts_per_minute: int = Field(default=10, gt=0)
    admin_username: str | None = None
    admin_password: str | None = None
    host_token_secret: SecretStr | None = None
    """The secret the host site signs its users' tokens with (HMAC-SHA256 JWT); unset, host login is off."""

    retention_days: float | None = Field(default=None, gt=0)
    """Delete conversation logs and guest sessions older than this many days; unset keeps them."""

    mask_pii: bool = False
    """Mask emails, phone and card numbers in the conversation log before storing."""

    timezone: str = "UTC"
    """The bot's time zone (a zoneinfo name such as Europe/London): "tomorrow" is tomorrow there."""

    phone_region: str = "US"
    """Where national phone numbers (no +country code) are read, ISO 3166 alpha-2 ("GB", "RU")."""

    actions_secret: str | None = None
    """Signs every HTTP action request (`X-Bot-Signature`, HMAC-SHA256 of the body); see docs/actions.md."""

    actions_max_response_bytes: int = Field(default=1_000_000, gt=0)
    """An action server's answer longer than this is a failed call."""

    multi_intent: bool = True
    """Answer each of several requests in one message ("thanks, bye"); off answers the message as one."""

    handoff_after_fallbacks: int = Field(default=0, ge=0)
    """Hand the conversation to a person after this many fallbacks in a row; 0 never does."""
    handoff_resume_message: str | None = None
    """What the bot says when an agent closes a conversation, in every language; unset, the
    `resume` text in the session's language (bot/system_texts.py, `system_texts:` in intents.yaml)."""
    agent_presence_seconds: float = Field(default=45.0, gt=0)
    """An agent counts as online this long after their inbox's last heartbeat (sent every third of it)."""

    thread_switch_ms: float = Field(default=5.0, gt=0)
    """How long a thread may keep the interpreter while another waits for it (`sys.setswitchinterval`).

    5 ms is Python's own default. Lower values let the log writer back in sooner after each wait
    on the database (handoff delivery's p99 roughly halved at 0.5 in some runs), but every thread
    then switches ten times as often: at 0.5 the chat path took 12-40 % more CPU a message in
    three alternating pairs of bench/ws_load.py runs (bench/RESULTS.md), so it is an operator's
    choice, not the default."""

    gc_young_threshold: int = Field(default=20_000, gt=0)
    """New container objects the cyclic collector lets pile up before a young collection
    (`gc.set_threshold`'s first value; Python's own is 700, which under load cost 90-140 µs of server
    CPU a message in collections: bench/RESULTS.md). `bot.memory.collect_young_every`."""

    log_json: bool = False
    log_level: str = "INFO"
    writer_batch_max: int = Field(default=512, gt=0)
    batch_linger_ms: float = Field(default=0.0, ge=0)
    """How long the NLU worker and the log writer may wait for more turns to join a batch, only
    while their last batch had several (`bot.batching.BatchWorker.linger`); 0 never waits. A lone
    client never waits (its batches have one item). At 0.5, under load with turns waiting on
    actions, batches were a quarter to a third larger, but the CPU a message fell in one run and
    rose in the next (bench/RESULTS.md), so it is off by default."""
    seed: int = 0

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql")):
            raise ValueError("BOT_DATABASE_URL must be sqlite:///FILE or postgresql+psycopg://USER@HOST/DB")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"BOT_TIMEZONE {value!r} is not a time zone; use a name such as Europe/London or UTC"
            ) from None
        return value

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        from phonenumbers import SUPPORTED_REGIONS

        if value.upper() not in SUPPORTED_REGIONS:
            raise ValueError(f"BOT_PHONE_REGION {value!r} is not a region; use a two-letter code such as US, GB or RU")
        return value.upper()

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):  # a JSON list (NoDecode leaves it to us)
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chatbot"


class CacheSettings(BaseSettings):
    """Where derived files are kept between runs (`BOT_CACHE_DIR`): read by the loaders that
    need it, which run while a model is unpickled, before the service's `Settings` exist."""

    model_config = SettingsConfigDict(env_prefix="BOT_", env_file=".env", extra="ignore")

    cache_dir: Path | None = Field(default_factory=_user_cache)
    """The multilingual encoder's piece table, uncompressed and memory-mapped (65 MB, once per
    installed version); empty: nothing cached, the table is read into each process."""

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value
