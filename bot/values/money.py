"""Amounts of money ("$20", "20 euros", "500 рублей", "двадцать долларов") as amount + ISO 4217 code.

The numbers come from `numbers.find_numbers` (digits or words); a currency symbol or code
before one, or a currency word after it, makes it an amount.
"""

from __future__ import annotations

import re
from functools import cache

from bot.understanding import Entity
from bot.values.lexicon import CURRENCY_SYMBOLS, CURRENCY_WORDS
from bot.values.numbers import NumberSpan

_BEFORE = re.compile(r"(?P<cur>[$€£₽¥]|\b(?:usd|eur|gbp|rub))\s?$")


@cache
def _after(language: str) -> re.Pattern[str]:
    words = "|".join(sorted(CURRENCY_WORDS[language], key=len, reverse=True))
    return re.compile(rf"\s?(?P<sym>[$€£₽¥])|\s*(?P<word>{words})(?:\b\.?|(?=\W|$))")


def money_entities(text: str, original: str, language: str, numbers: list[NumberSpan]) -> list[Entity]:
    found: list[Entity] = []
    after = _after(language)
    for number in numbers:
        start, end, currency = number.start, number.end, None
        before = _BEFORE.search(text, max(0, number.start - 4), number.start)
        if before is not None:
            start, currency = before.start(), CURRENCY_SYMBOLS.get(before["cur"]) or before["cur"].upper()
        else:
            m = after.match(text, number.end)
            if m is not None:
                end = m.end()
                currency = CURRENCY_SYMBOLS[m["sym"]] if m["sym"] else CURRENCY_WORDS[language][m["word"]]
        if currency is not None:
            value = {"amount": float(number.value), "currency": currency}
            found.append(Entity("amount_of_money", value, start, end, original[start:end], source="builtin"))
    return found
