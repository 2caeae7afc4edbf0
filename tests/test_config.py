"""bot.config.Settings: defaults, BOT_* variables, and validators that fail fast."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config import Settings


def test_defaults_read_nothing_but_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("BOT_"):
            monkeypatch.delenv(name)
    settings = Settings(_env_file=None)
    assert (settings.host, settings.port, settings.database_url) == ("127.0.0.1", 8000, "sqlite:///bot.db")
    assert settings.intents_path == Path("intents.yaml") and settings.models_dir == Path("models")
    assert settings.pipeline is None and settings.allowed_origins == [] and not settings.mask_pii


def test_variables_are_prefixed_and_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_PORT", "8123")
    monkeypatch.setenv("BOT_MASK_PII", "true")
    monkeypatch.setenv("BOT_RATE_PER_SECOND", "2.5")
    monkeypatch.setenv("PORT", "9999")  # unprefixed: not ours
    settings = Settings(_env_file=None)
    assert (settings.port, settings.mask_pii, settings.rate_per_second) == (8123, True, 2.5)


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BOT_LOG_LEVEL", raising=False)
    env = tmp_path / ".env"
    env.write_text("BOT_LOG_LEVEL=DEBUG\nBOT_ALLOW_GUESTS=false\n")
    settings = Settings(_env_file=env)
    assert settings.log_level == "DEBUG" and settings.allow_guests is False


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("https://a.example, https://b.example", ["https://a.example", "https://b.example"]),
        ("*", ["*"]),
        ('["https://a.example"]', ["https://a.example"]),
        ("", []),
    ],
)
def test_allowed_origins_are_comma_separated_or_json(
    monkeypatch: pytest.MonkeyPatch, raw: str, origins: list[str]
) -> None:
    monkeypatch.setenv("BOT_ALLOWED_ORIGINS", raw)
    assert Settings(_env_file=None).allowed_origins == origins


def test_postgresql_urls_get_the_psycopg_driver() -> None:
    url = Settings(_env_file=None, database_url="postgresql://bot@db/bot").database_url
    assert url == "postgresql+psycopg://bot@db/bot"


def test_an_unknown_database_says_what_is_expected() -> None:
    with pytest.raises(ValidationError, match=r"BOT_DATABASE_URL must be sqlite:///FILE or postgresql\+psycopg://"):
        Settings(_env_file=None, database_url="mysql://bot@db/bot")


@pytest.mark.parametrize(
    ("field", "value"),
    [("port", 70000), ("rate_per_second", 0), ("max_message_chars", 0), ("pipeline", "heavy"), ("typing_after_ms", -1)],
)
def test_out_of_range_values_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings(_env_file=None, **{field: value})


def test_time_zone_and_phone_region() -> None:
    settings = Settings(timezone="Europe/Moscow", phone_region="ru")
    assert (settings.timezone, settings.phone_region) == ("Europe/Moscow", "RU")
    assert (Settings().timezone, Settings().phone_region) == ("UTC", "US")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Base", "BOT_TIMEZONE 'Mars/Base' is not a time zone; use a name such as Europe/London"),
        ("timezone", "../etc/passwd", "BOT_TIMEZONE '../etc/passwd' is not a time zone"),
        ("phone_region", "XX", "BOT_PHONE_REGION 'XX' is not a region; use a two-letter code such as US, GB or RU"),
    ],
)
def test_unknown_values_say_what_to_use(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**{field: value})
    assert message in str(info.value)
