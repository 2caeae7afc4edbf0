"""The entity tagger's features at serving, made as the attribute strings CRFsuite reads.

`bot.tagger.doc_features` gives each token a dict (`{"w": "order", "t": 0.0, ...}`), which
python-crfsuite turns into attributes one key at a time: a string value becomes the attribute
`key:value` of weight 1, a number the attribute `key` of that weight. That conversion was most
of a tagged message's cost (about 45 of 100 µs). Serving builds the same attributes, in the
same order, as plain strings instead, each token's own ones cached by (text, norm), and leaves
out those of weight 0: a feature of value 0 adds nothing to any score, so the CRF's tags and
marginals are exactly those of the dicts (`tests/test_tagger.py` checks both).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

SEP = ":"
"""What python-crfsuite puts between a feature's key and its string value."""
START, END = "<s>", "</s>"
"""The padding words `doc_features` puts before and after a doc."""


class TokenAttributes(NamedTuple):
    """One token's attributes: its own, and those it gives its neighbours."""

    own: tuple[str, ...]
    word: str
    as_previous: tuple[str, ...]
    """`-1n`, `-1s`, `-1t` of the token after it."""
    as_next: tuple[str, ...]
    """`1n`, `1s`, `1t` of the token before it."""


def attribute(key: str, value: str | float) -> str | None:
    """The attribute CRFsuite makes of one feature; None for a number of weight 0 (it scores nothing).

    The tagger's numeric features are all 0 or 1 (`float` of a flag), so weights need no slot."""
    if isinstance(value, str):
        return key + SEP + value
    if value == 0.0:
        return None
    if value != 1.0:
        raise ValueError(f"feature {key} has weight {value}: only 0 and 1 can be written as attribute names")
    return key


def token_attributes(features: Mapping[str, str | float]) -> TokenAttributes:
    """`TokenAttributes` from a token's own features (`bot.tagger._token_features`)."""
    own = tuple(a for k, v in features.items() if (a := attribute(k, v)) is not None)
    previous = (attribute("-1n", features["n"]), attribute("-1s", features["s"]), attribute("-1t", features["t"]))
    following = (attribute("1n", features["n"]), attribute("1s", features["s"]), attribute("1t", features["t"]))
    return TokenAttributes(
        own,
        str(features["w"]),
        tuple(a for a in previous if a is not None),
        tuple(a for a in following if a is not None),
    )


def doc_attributes(
    doc: Doc,
    tokens: Callable[[Token], TokenAttributes],
    intent: str | None = None,
    marks: Sequence[Mapping[str, str]] | None = None,
) -> list[list[str]]:
    """`bot.tagger.doc_features(doc, intent, marks)` as CRFsuite's attributes, in the same order,
    without those of weight 0; `tokens` gives a token's `TokenAttributes` (cached at serving)."""
    own = [tokens(t) for t in doc]
    words = [START, START, *(t.word for t in own), END, END]
    last = len(own) - 1
    rows: list[list[str]] = []
    for i, token in enumerate(own):
        word = token.word
        before2, before, after, after2 = words[i], words[i + 1], words[i + 3], words[i + 4]
        row = ["b", *token.own]
        if marks is not None:
            row += [key + SEP + value for key, value in marks[i].items()]
        row.append("-2w" + SEP + before2)
        row.append("-1w" + SEP + before)
        if i > 0:
            row += own[i - 1].as_previous
        row.append("1w" + SEP + after)
        if i < last:
            row += own[i + 1].as_next
        row.append("2w" + SEP + after2)
        row.append(f"-1w|w{SEP}{before}|{word}")
        row.append(f"w|1w{SEP}{word}|{after}")
        row.append(f"-2w|-1w{SEP}{before2}|{before}")
        row.append(f"1w|2w{SEP}{after}|{after2}")
        if intent is not None:
            row.append("i" + SEP + intent)
            row.append(f"i|w{SEP}{intent}|{word}")
        rows.append(row)
    return rows
