"""bot.privacy.mask_pii: what is masked before logging, and the near misses that are not."""

from __future__ import annotations

import pytest

from bot.privacy import mask_pii


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail ada@example.com now", "mail [email] now"),
        ("ada.l+bot@mail.co.uk", "[email]"),
        ("write to first.last@sub-domain.example.org, please", "write to [email], please"),
        ("call +1 (555) 123-4567", "call [phone]"),
        ("phone 020 7946 0958 after six", "phone [phone] after six"),
        ("tel:5551234567", "tel:[phone]"),
        ("card 4111 1111 1111 1111", "card [card]"),
        ("card 4111-1111-1111-1111 exp 12/29", "card [card] exp 12/29"),
        ("4111111111111111", "[card]"),
        ("amex 378282246310005", "amex [card]"),
        ("a@b.co and +44 20 7946 0958", "[email] and [phone]"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "user@localhost",  # no domain with a dot
        "@handle on the forum",
        "order AB123456",  # the shop's order numbers
        "order 12345",
        "room 1234567",  # seven digits: too short for a phone number
        "on 2024-01-15",  # a date
        "on 2024-01-15 10:30",
        "version 1.2.3",
        "at 10:30",
        "ship 3 items for 25.50",
        "card 4111 1111 1111 1112",  # fails the Luhn check, and 16 digits is no phone number
        "tracking 1234567890123456789",
        "where is my order",
    ],
)
def test_near_misses_are_left_alone(text: str) -> None:
    assert mask_pii(text) == text
