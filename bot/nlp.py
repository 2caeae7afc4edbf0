"""spaCy preprocessing shared by training and serving: normalised text and entities.

Pipelines come from `spacy.blank(language)` plus a lemmatizer whose data is installed as a
package (spacy-lookups-data for English, pymorphy3 for Russian), so nothing is downloaded.
This module lives outside the pickled model: training and serving call the same code.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo


def _import_spacy_lean() -> None:
    """Import spaCy without torch and without its command-line interface.

    thinc, spaCy's ML library, imports torch eagerly whenever it is installed (1.5 s and
    some 300 MB per process) although blank pipelines never use it; the encoder pipeline
    imports torch itself, later, when it is asked for. `spacy/__init__` also imports its CLI
    (typer, weasel, requests: some 360 modules, a third of spaCy's import time) for
    `spacy.info`. Both are hidden only while spaCy imports; importing them later works.
    """
    if "spacy" in sys.modules:
        return
    cli = types.ModuleType("spacy.cli")
    cli.__path__ = []
    info = types.ModuleType("spacy.cli.info")
    info.info = None  # type: ignore[attr-defined]  # a stand-in module: ModuleType declares no attributes
    hidden = {"spacy.cli": cli, "spacy.cli.info": info}
    if "torch" not in sys.modules:
        hidden["torch"] = None  # type: ignore[assignment]  # None in sys.modules makes `import torch` fail
    sys.modules.update(hidden)
    try:
        import spacy  # noqa: F401
    finally:
        for name in hidden:
            del sys.modules[name]


_import_spacy_lean()

import spacy  # noqa: E402
from spacy.language import Language  # noqa: E402
from spacy.matcher import PhraseMatcher  # noqa: E402
from spacy.pipeline import Lemmatizer  # noqa: E402
from spacy.tokens import Doc  # noqa: E402

from bot.domain import EntitySpec  # noqa: E402
from bot.spelling import Speller  # noqa: E402
from bot.understanding import Entity  # noqa: E402
from bot.values import extract_values  # noqa: E402
from bot.values.temporal import longest  # noqa: E402
from bot.word_forms import english_plural, russian_forms  # noqa: E402

NUM = "__num__"
CODE = "__code__"
EMAIL = "__email__"
URL = "__url__"

_LEMMATIZER_MODE = {"en": "lookup", "ru": "pymorphy3_lookup"}
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


class PreprocessingError(Exception):
    """The language pipeline cannot be built (usually a missing lookup package)."""


@Language.factory("lemma_norm")
def make_lemma_norm(nlp: Language, name: str) -> LemmaNorm:
    return LemmaNorm(nlp)


class LemmaNorm:
    """Set each token's NORM to its lower-cased lemma, so 'Laptops' and 'laptop' match.

    English lookup tables are keyed by lower-case words and miss capitalised ones, so an
    unchanged lemma is looked up again in lower case.
    """

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        self.table: dict[str, str] | None = None

    def __call__(self, doc: Doc) -> Doc:
        if self.table is None:
            lemmatizer = cast(Lemmatizer, self.nlp.get_pipe("lemmatizer"))
            tables = lemmatizer.lookups.tables if lemmatizer.mode == "lookup" else []
            self.table = lemmatizer.lookups.get_table("lemma_lookup") if "lemma_lookup" in tables else {}
        for token in doc:
            lemma = token.lemma_ or token.text
            if lemma == token.text and not lemma.islower():
                lemma = self.table.get(lemma.lower(), lemma)
            token.norm_ = lemma.lower()
        return doc


def make_nlp(language: str) -> Language:
    """A blank pipeline with a lemmatizer from installed data; never downloads a model."""
    if language not in _LEMMATIZER_MODE:
        raise PreprocessingError(f"language '{language}' is not supported; use one of {', '.join(_LEMMATIZER_MODE)}")
    nlp = spacy.blank(language)
    nlp.add_pipe("lemmatizer", config={"mode": _LEMMATIZER_MODE[language]})
    nlp.add_pipe("lemma_norm")
    try:
        nlp.initialize()
    except (ValueError, ImportError) as exc:
        package = "spacy-lookups-data" if language == "en" else "pymorphy3 pymorphy3-dicts-ru"
        raise PreprocessingError(f"cannot load the {language} lemmatizer ({exc}); pip install {package}") from exc
    return nlp


class Preprocessor:
    """Turns raw text into the classifier's input and extracts the domain's entities.

    Built-in values ("tomorrow", "$20") are resolved relative to `now` in `timezone`; national
    phone numbers are read in `region`.
    """

    def __init__(
        self,
        language: str = "en",
        entities: Mapping[str, EntitySpec] | None = None,
        *,
        timezone: str = "UTC",
        region: str = "US",
    ) -> None:
        self.language = language
        self.nlp = make_nlp(language)
        self.entities = dict(entities or {})
        self.zone = ZoneInfo(timezone)
        self.region = region
        self._builtins: dict[str, list[str]] = {}
        for name, spec in self.entities.items():
            if spec.builtin is not None:
                self._builtins.setdefault(spec.builtin, []).append(name)
        self.speller: Speller | None = None
        """Set once the classifier is known (`bot.spelling.speller_for`): unknown words are then corrected."""
        self._surface = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._lemma = PhraseMatcher(self.nlp.vocab, attr="NORM")
        self._canonical: dict[str, dict[str, str]] = {}
        self._regexes = [
            (name, re.compile(pattern, re.IGNORECASE)) for name, spec in self.entities.items() for pattern in spec.regex
        ]
        for name, spec in self.entities.items():
            if not spec.values:
                continue
            terms = {term: canonical for canonical, synonyms in spec.values.items() for term in (canonical, *synonyms)}
            self._canonical[name] = {term.lower(): canonical for term, canonical in terms.items()}
            forms = {form.lower(): c for t, c in terms.items() for form in self._more_forms(t)}
            if forms:
                self._canonical[name] = {**forms, **self._canonical[name]}
                self._surface.add(name, [self.nlp.make_doc(t) for t in forms])
            self._surface.add(name, [self.nlp.make_doc(t) for t in terms])
            self._lemma.add(name, list(self.nlp.pipe(terms)))
            for doc, canonical in zip(self.nlp.pipe(terms), terms.values(), strict=False):
                self._canonical[name].setdefault(_norm_key(doc), canonical)

    def _more_forms(self, term: str) -> set[str]:
        """Forms of `term` the lemmas miss (`bot.word_forms`), matched as typed."""
        if self.language == "en":
            return {english_plural(term)}
        if self.language == "ru":
            return russian_forms(term, cast(Any, self.nlp.get_pipe("lemmatizer"))._morph) - {term}
        return set()

    def normalize(self, text: str) -> str:
        return self._normalize_doc(self.nlp(text))

    def normalize_many(self, texts: Iterable[str], batch_size: int = 256) -> list[str]:
        return [self._normalize_doc(doc) for doc in self.nlp.pipe(texts, batch_size=batch_size)]

    def read_many(self, texts: Iterable[str], batch_size: int = 256) -> tuple[list[str], list[str]]:
        """The texts normalised and spelled (`spelled`), from one pass of the pipeline."""
        docs = list(self.nlp.pipe(texts, batch_size=batch_size))
        return [self._normalize_doc(doc) for doc in docs], [self.spelled(doc) for doc in docs]

    def spelled(self, doc: Doc) -> str:
        """The doc's text with each word the speller corrects in `_normalize_doc` replaced by its
        correction ("отмените мой закз" -> "отмените мой заказ"): what the classifier's dense
        features read. The text as it is without a speller."""
        speller = self.speller
        if speller is None:
            return doc.text
        # Only words of letters are ever corrected (`Speller.correct`), so this is the loop of
        # `_normalize_doc` for the tokens it hands the speller.
        return "".join(
            (_corrected(speller, token) if token.is_alpha else token.text) + token.whitespace_ for token in doc
        )

    def process(self, text: str, now: datetime | None = None) -> tuple[str, list[Entity]]:
        """Normalised text and entities from one pass of the pipeline; `now` defaults to the clock."""
        return self.process_doc(self.nlp(text), now)

    def process_doc(self, doc: Doc, now: datetime | None = None) -> tuple[str, list[Entity]]:
        """As `process`, on a doc of this pipeline (which the entity tagger reads too)."""
        return self._normalize_doc(doc), self._extract_doc(doc, now)

    def extract(self, text: str, now: datetime | None = None) -> list[Entity]:
        return self._extract_doc(self.nlp(text), now)

    def _normalize_doc(self, doc: Doc) -> str:
        words: list[str] = []
        speller = self.speller
        for token in doc:
            if token.is_space or (token.is_punct and token.text != "?"):
                continue
            if token.like_email:
                words.append(EMAIL)
            elif token.like_url:
                words.append(URL)
            elif any(c.isdigit() for c in token.text):
                words.append(NUM if _NUMBER.fullmatch(token.text) else CODE)
            else:
                words.append(speller.norm(token.norm_, token.lower_) if speller else token.norm_)
        return " ".join(words)

    def _extract_doc(self, doc: Doc, now: datetime | None = None) -> list[Entity]:
        found: list[Entity] = []
        text = doc.text
        for matcher in (self._surface, self._lemma):
            for match_id, start, end in matcher(doc):
                name = self.nlp.vocab.strings[match_id]
                span = doc[start:end]
                canonical = self._canonical[name].get(span.text.lower()) or self._canonical[name].get(_norm_key(span))
                if canonical is not None:
                    found.append(Entity(name, canonical, span.start_char, span.end_char, span.text))
        for name, pattern in self._regexes:
            for m in pattern.finditer(text):
                if m.group():
                    value = m.group("value") if "value" in pattern.groupindex else m.group()
                    found.append(Entity(name, value, m.start(), m.end(), m.group()))
        if self._builtins:
            now = now.astimezone(self.zone) if now is not None else datetime.now(self.zone)
            values = extract_values(text, self.language, now, region=self.region, wanted=frozenset(self._builtins))
            found += [
                Entity(name, v.value, v.start, v.end, v.text, source="builtin")
                for v in values
                for name in self._builtins[v.entity]
            ]
        return longest(found)


def _corrected(speller: Speller, token: spacy.tokens.Token) -> str:
    """The token's correction, or its text when the speller keeps its normalised form."""
    fixed = speller.norm(token.norm_, token.lower_)
    return token.text if fixed == token.norm_ else fixed


def _norm_key(tokens: Iterable[spacy.tokens.Token]) -> str:
    return " ".join(t.norm_ for t in tokens)
