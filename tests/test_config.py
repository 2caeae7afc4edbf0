"""Settings that fail fast: a time zone and a phone region must exist."""

import pytest
from pydantic import ValidationError

from bot.config import Settings


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
