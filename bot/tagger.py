"""Entities learned from annotated examples: a linear-chain CRF over spaCy tokens.

`[text](entity)` marks in intents.yaml (or `*_slots.jsonl` rows) become BIO tags on the
tokens of the same spaCy tokenisation `bot.nlp` uses; python-crfsuite learns them from
word, shape, affix, lemma and neighbour features, so a value never seen in training ("a
table for Ms Okonkwo") is found by its context. It was chosen over a spaCy `ner` pipe trained
from `spacy.blank` by measurement on snips (docs/entities.md): higher exact-span F1, a fit in
a fraction of the time and about a tenth of a millisecond per message.

Serving needs only python-crfsuite (a C extension, no scikit-learn): the trained model is kept
as bytes and opened in memory, so an `EntityTagger` pickles with its model folder.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pycrfsuite

from bot.nlp import make_nlp  # before anything of spaCy's: bot.nlp imports it without torch
from bot.tagger_attributes import TokenAttributes, doc_attributes, token_attributes
from bot.understanding import Entity

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

log = logging.getLogger(__name__)

OUTSIDE = "O"
SOURCE = "model"
DEFAULT_C1 = 0.05
DEFAULT_C2 = 0.01
DEFAULT_ITERATIONS = 150


class TaggerError(Exception):
    """The entity tagger cannot be trained on this data."""


class Span(Protocol):
    """An annotated span: `bot.markup.Annotation` and the JSON Lines rows' entities alike."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...

    @property
    def entity(self) -> str: ...


@dataclass(frozen=True)
class TaggerSettings:
    """The CRF's regularisation and length of training; the defaults were picked on snips."""

    c1: float = DEFAULT_C1
    c2: float = DEFAULT_C2
    iterations: int = DEFAULT_ITERATIONS
    gazetteer: bool = True
    """Whether values annotated in training are a feature where they appear again."""
    intent_feature: bool = True
    """Whether the message's intent (the true one in training, the predicted one at serving)
    is a feature of every token: 'the hunger games' is a movie in one intent, a book in another."""


def has_annotations(annotations: Iterable[Sequence[Span]]) -> bool:
    return any(len(spans) > 0 for spans in annotations)


def bio_tags(doc: Doc, spans: Sequence[Span]) -> list[str]:
    """BIO labels of a doc's tokens: a token belongs to the span its first character is in."""
    tags = [OUTSIDE] * len(doc)
    for span in sorted(spans, key=lambda s: s.start):
        inside = [t.i for t in doc if span.start <= t.idx < span.end and not t.is_space]
        for k, i in enumerate(inside):
            if tags[i] == OUTSIDE:
                tags[i] = ("B-" if k == 0 else "I-") + span.entity
    return tags


def _shape(text: str) -> str:
    """Word shape with runs collapsed ('McDonald' -> 'XxXx', '2019' -> 'd')."""
    out: list[str] = []
    for ch in text:
        c = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else ch
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def _token_features(token: Token) -> dict[str, str | float]:
    lower = token.lower_
    return {
        "w": lower,
        "n": token.norm_,
        "s": _shape(token.text),
        "p2": lower[:2],
        "p3": lower[:3],
        "s2": lower[-2:],
        "s3": lower[-3:],
        "s4": lower[-4:],
        "t": float(token.is_title),
        "u": float(token.is_upper and len(token) > 1),
        "d": float(token.like_num),
        "q": float(token.is_punct),
        "st": float(token.is_stop),
    }


Gazetteer = dict[tuple[str, ...], Counter[str]]
"""Annotated values (lower-cased tokens) -> how many times each entity type marks them."""
MAX_VALUE_TOKENS = 6
TOKEN_CACHE = 50_000
"""Tokens whose features a tagger keeps (emptied when full): a few MB, and a message's words
are nearly always among the last ones seen."""


def value_keys(doc: Doc, spans: Sequence[Span]) -> Counter[tuple[tuple[str, ...], str]]:
    """The annotated values of one doc, as gazetteer keys with their types."""
    tags = bio_tags(doc, spans)
    keys: Counter[tuple[tuple[str, ...], str]] = Counter()
    i = 0
    while i < len(tags):
        if tags[i].startswith("B-"):
            j = i + 1
            while j < len(tags) and tags[j] == "I-" + tags[i][2:]:
                j += 1
            if j - i <= MAX_VALUE_TOKENS:
                keys[(tuple(t.lower_ for t in doc[i:j]), tags[i][2:])] += 1
            i = j
        else:
            i += 1
    return keys


def gazetteer_marks(
    doc: Doc,
    gazetteer: Gazetteer,
    own: Counter[tuple[tuple[str, ...], str]] | None = None,
    starts: frozenset[str] | None = None,
) -> list[dict[str, str]]:
    """Per token, `g:TYPE` = B or I where a known value of that type covers it (longest first).

    In training, `own` (the doc's own annotated values) is left out of the counts: a value only
    this sentence marks is no evidence for it, or the CRF would learn to trust the list blindly.
    `starts` (the first words of the gazetteer's values, `first_words`) lets a token that
    starts none be passed over without looking its phrases up.
    """
    words = [t.lower_ for t in doc]
    marks: list[dict[str, str]] = [{} for _ in words]
    for i in range(len(words)):
        if starts is not None and words[i] not in starts:
            continue
        for j in range(min(len(words), i + MAX_VALUE_TOKENS), i, -1):
            types = gazetteer.get(tuple(words[i:j]))
            if not types:
                continue
            for entity, count in types.items():
                if count - (own[(tuple(words[i:j]), entity)] if own else 0) > 0:
                    for k in range(i, j):
                        marks[k].setdefault(f"g:{entity}", "B" if k == i else "I")
    return marks


def first_words(gazetteer: Gazetteer) -> frozenset[str]:
    return frozenset(words[0] for words in gazetteer)


def doc_features(
    doc: Doc, intent: str | None = None, marks: Sequence[Mapping[str, str]] | None = None
) -> list[dict[str, str | float]]:
    """CRFsuite's features of each token: its own, its neighbours' words and shapes, bigrams,
    the intent, and the gazetteer's marks. Serving hands the CRF the same features as attribute
    strings (`bot.tagger_attributes.doc_attributes`)."""
    own = [_token_features(t) for t in doc]
    words = ["<s>", "<s>", *(f["w"] for f in own), "</s>", "</s>"]  # two words of padding each side
    last = len(own) - 1
    rows: list[dict[str, str | float]] = []
    for i, feats in enumerate(own):
        word = feats["w"]
        row: dict[str, str | float] = {"b": 1.0, **feats}
        if marks is not None:
            row.update(marks[i])
        before2, before, after, after2 = words[i], words[i + 1], words[i + 3], words[i + 4]
        row["-2w"] = before2
        row["-1w"] = before
        if i > 0:
            prev = own[i - 1]
            row["-1n"], row["-1s"], row["-1t"] = prev["n"], prev["s"], prev["t"]
        row["1w"] = after
        if i < last:
            nxt = own[i + 1]
            row["1n"], row["1s"], row["1t"] = nxt["n"], nxt["s"], nxt["t"]
        row["2w"] = after2
        row["-1w|w"] = f"{before}|{word}"
        row["w|1w"] = f"{word}|{after}"
        row["-2w|-1w"] = f"{before2}|{before}"
        row["1w|2w"] = f"{after}|{after2}"
        if intent is not None:
            row["i"] = intent
            row["i|w"] = f"{intent}|{word}"
        rows.append(row)
    return rows


class EntityTagger:
    """A CRF that tags learned entity types; `fit` on annotated texts, `predict` on new ones."""

    def __init__(self, language: str, settings: TaggerSettings | None = None) -> None:
        self.language = language
        self.settings = settings or TaggerSettings()
        self.labels: list[str] = []
        self.intent_entities: dict[str, frozenset[str]] = {}
        """Entity types each intent's examples carry: a learned entity of another type is
        not taken for that intent (`bot.entity_merge.merge_entities`)."""
        self.gazetteer: Gazetteer = {}
        self._intents_seen: frozenset[str] = frozenset()
        """Intents the CRF saw as a feature; another (or none) is left out of the features."""
        self._model: bytes = b""
        self._tagger: Any = None
        self._lock = threading.Lock()  # a crfsuite Tagger holds the sequence being tagged
        self._nlp: Any = None
        self._starts: frozenset[str] = frozenset()
        """The gazetteer's `first_words`."""
        self._token_attributes: dict[tuple[int, int], TokenAttributes] = {}
        """The attributes of the tokens seen at serving, by (text, norm): all they depend on."""

    @property
    def entity_types(self) -> frozenset[str]:
        return frozenset(label[2:] for label in self.labels if label != OUTSIDE)

    def fit(
        self,
        texts: Sequence[str],
        annotations: Sequence[Sequence[Span]],
        language: str | None = None,
        intents: Sequence[str] | None = None,
        docs: Sequence[Doc] | None = None,
    ) -> EntityTagger:
        """Learn from texts and their annotated spans (character offsets into each text)."""
        if len(texts) != len(annotations) or (intents is not None and len(intents) != len(texts)):
            raise TaggerError("texts, annotations and intents must be as many")
        if not has_annotations(annotations):
            raise TaggerError("no annotated entities to learn from: mark them as [text](entity) in the examples")
        if language is not None:
            self.language = language
        docs = list(docs) if docs is not None else self._docs(texts)
        use_intent = self.settings.intent_feature and intents is not None
        values = [value_keys(doc, spans) for doc, spans in zip(docs, annotations, strict=True)]
        self.gazetteer = {}
        if self.settings.gazetteer:
            for keys in values:
                for (words, entity), count in keys.items():
                    self.gazetteer.setdefault(words, Counter())[entity] += count
        self._starts = first_words(self.gazetteer)
        trainer = pycrfsuite.Trainer(verbose=False)
        for k, (doc, spans) in enumerate(zip(docs, annotations, strict=True)):
            if len(doc):
                intent = intents[k] if use_intent and intents is not None else None
                marks = gazetteer_marks(doc, self.gazetteer, values[k], self._starts) if self.gazetteer else None
                trainer.append(doc_features(doc, intent, marks), bio_tags(doc, spans))
        trainer.set_params(
            {
                "c1": self.settings.c1,
                "c2": self.settings.c2,
                "max_iterations": self.settings.iterations,
                "feature.possible_transitions": True,
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tagger.crfsuite"
            trainer.train(str(path))
            self._model = path.read_bytes()
        self._tagger = None
        self.labels = sorted(self._open().labels())
        carried: dict[str, set[str]] = {}
        if intents is not None:
            for intent, spans in zip(intents, annotations, strict=True):
                carried.setdefault(intent, set()).update(s.entity for s in spans)
        self.intent_entities = {intent: frozenset(types) for intent, types in carried.items()}
        self._intents_seen = frozenset(carried) if use_intent else frozenset()
        log.info(
            "entity tagger: %d texts, types %s, %d known values",
            len(docs),
            sorted(self.entity_types),
            len(self.gazetteer),
        )
        return self

    def predict(self, texts: Sequence[str], intents: Sequence[str | None] | None = None) -> list[list[Entity]]:
        """Entities in each text, `source="model"`, confidence the CRF's marginal (lowest over the span's tokens)."""
        return self.predict_docs(self._docs(texts), intents)

    def predict_docs(self, docs: Sequence[Doc], intents: Sequence[str | None] | None = None) -> list[list[Entity]]:
        """As `predict`, on docs already made by the same pipeline (the Preprocessor's)."""
        tagger = self._open()
        out: list[list[Entity]] = []
        for k, doc in enumerate(docs):
            intent = intents[k] if intents is not None and self.settings.intent_feature else None
            if intent is not None and intent not in self._intents_seen:
                intent = None
            if not len(doc):
                out.append([])
                continue
            marks = gazetteer_marks(doc, self.gazetteer, starts=self._starts) if self.gazetteer else None
            features = doc_attributes(doc, self._cached_attributes, intent, marks)
            with self._lock:
                tagger.set(features)
                out.append(_spans(doc, tagger.tag(), tagger))
        return out

    def _cached_attributes(self, token: Token) -> TokenAttributes:
        key = (token.orth, token.norm)
        found = self._token_attributes.get(key)
        if found is None:
            if len(self._token_attributes) >= TOKEN_CACHE:
                self._token_attributes.clear()
            found = self._token_attributes[key] = token_attributes(_token_features(token))
        return found

    def _open(self) -> Any:
        if self._tagger is None:
            if not self._model:
                raise TaggerError("the entity tagger is not trained; call fit first")
            tagger = pycrfsuite.Tagger()
            tagger.open_inmemory(self._model)
            self._tagger = tagger
        return self._tagger

    def _docs(self, texts: Iterable[str]) -> list[Doc]:
        if self._nlp is None:
            self._nlp = make_nlp(self.language)
        return list(self._nlp.pipe(texts))

    def __getstate__(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "settings": self.settings,
            "labels": self.labels,
            "intent_entities": self.intent_entities,
            "intents_seen": self._intents_seen,
            "gazetteer": self.gazetteer,
            "model": self._model,
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        # mypy forbids calling __init__ on an instance; rebuilding the pipeline here is the point
        self.__init__(state["language"], state["settings"])  # type: ignore[misc]
        self.labels = list(state["labels"])
        self.intent_entities = dict(state["intent_entities"])
        self._intents_seen = frozenset(state["intents_seen"])
        self.gazetteer = dict(state["gazetteer"])
        self._starts = first_words(self.gazetteer)
        self._model = bytes(state["model"])


def _spans(doc: Doc, tags: Sequence[str], tagger: Any) -> list[Entity]:
    """Entities from BIO tags; an I- without its B- starts a span too (CRFs rarely emit one)."""
    found: list[Entity] = []
    i = 0
    while i < len(tags):
        tag = tags[i]
        if tag == OUTSIDE:
            i += 1
            continue
        entity = tag[2:]
        j = i + 1
        while j < len(tags) and tags[j] == f"I-{entity}":
            j += 1
        confidence = min(tagger.marginal(tags[k], k) for k in range(i, j))
        span = doc[i:j]
        found.append(
            Entity(
                entity,
                span.text,
                span.start_char,
                span.end_char,
                span.text,
                confidence=round(float(confidence), 4),
                source=SOURCE,
            )
        )
        i = j
    return found
