"""Phone numbers (Google's libphonenumber rules, through `phonenumbers`), URLs and emails."""

from __future__ import annotations

import re

import phonenumbers

from bot.understanding import Entity

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
"""An email address: the built-in `email` value, what PII masking hides, what a handoff ticket accepts."""
_URL = re.compile(
    r"(?<![@\w.])(?:https?://[^\s<>\"']+|www\.[^\s<>\"']+"
    r"|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|ru|рф|uk|de|fr|eu|info|biz|dev|app|co)\b(?:/[^\s<>\"']*)?)",
    re.IGNORECASE,
)
_MIN_PHONE_DIGITS = 7


def phone_entities(text: str, region: str) -> list[Entity]:
    """Valid phone numbers as E.164 ("+14155552671"); national ones are read in `region`.

    The matcher costs a millisecond or more, so it only runs on text with enough digits.
    """
    if sum(c.isdigit() for c in text) < _MIN_PHONE_DIGITS:
        return []
    return [
        Entity(
            "phone",
            phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164),
            m.start,
            m.end,
            m.raw_string,
            source="builtin",
        )
        for m in phonenumbers.PhoneNumberMatcher(text, region)
    ]


def url_entities(text: str) -> list[Entity]:
    found = []
    for m in _URL.finditer(text):
        url = m.group().rstrip(".,;:!?)")
        found.append(Entity("url", url, m.start(), m.start() + len(url), url, source="builtin"))
    return found


def email_entities(text: str) -> list[Entity]:
    return [Entity("email", m.group(), m.start(), m.end(), m.group(), source="builtin") for m in EMAIL.finditer(text)]
