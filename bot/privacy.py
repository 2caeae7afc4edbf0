"""Masking of personal data before it reaches the conversation log (setting BOT_MASK_PII)."""

from __future__ import annotations

import re

from bot.values.contacts import EMAIL

_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_PHONE = re.compile(r"(?<![\w@])\+?\d[\d ()-]{6,}\d\b")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{1,2})?")  # an ISO date (and hour), which _PHONE would take
_MAX_PHONE_DIGITS = 15  # E.164; a longer run of digits is an order or tracking number


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "[card]" if _luhn_ok(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    found = match.group()
    digits = re.sub(r"\D", "", found)
    return found if len(digits) > _MAX_PHONE_DIGITS or _DATE.fullmatch(found) else "[phone]"


def mask_pii(text: str) -> str:
    """Replace emails, card numbers (Luhn-checked) and phone numbers with placeholders."""
    text = EMAIL.sub("[email]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)
