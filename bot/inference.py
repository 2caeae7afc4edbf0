"""Serving-time intent scoring with numpy alone: what a trained model is when it answers.

`bot.classifier.IntentClassifier` trains with scikit-learn, then compiles what prediction
needs (the n-gram analyzers with their vocabularies and idf weights, the linear model's
coefficients, the calibration learnt on held-out rows) into a `Scorer`. A model folder stores
only the `Scorer`, so a server with a `light` model never imports scikit-learn and SciPy:
some 80 MB and 2-3 s less per process (an `encoder` model brings torch, which dwarfs both).
Training and evaluation call the same `Scorer`, so there is one prediction path; the tests
check its features and decision values against scikit-learn's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from bot.understanding import FALLBACK, OOS, Prediction, same_text

__all__ = ["FALLBACK", "OOS", "PIPELINES", "Kind", "Prediction"]

TOP_K = 3
RAW, NORMALIZED = 0, 1
FORMAT = 4
"""Version of what a model folder holds (4 added `tagger.joblib`); a model in another format is retrained."""
_WHITE_SPACES = re.compile(r"\s\s+")
_WORD = re.compile(r"\w")

Kind = Literal["light", "encoder", "multilingual"]
PIPELINES: tuple[Kind, ...] = ("light", "encoder", "multilingual")


class ClassifierError(Exception):
    """The classifier cannot be trained or used as asked."""


@dataclass(frozen=True)
class WordNgrams:
    """scikit-learn's word analyzer (no lowercasing): regex tokens, then n-grams joined by a space."""

    pattern: re.Pattern[str]
    ngram_range: tuple[int, int]

    def tokens(self, doc: str) -> list[str]:
        return self.pattern.findall(doc)

    def __call__(self, doc: str) -> list[str]:
        tokens = self.tokens(doc)
        low, high = self.ngram_range
        grams = list(tokens) if low == 1 else []
        for n in range(max(low, 2), min(high, len(tokens)) + 1):
            grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        return grams


@dataclass(frozen=True)
class CharWbNgrams:
    """scikit-learn's `char_wb` analyzer: character n-grams inside each space-padded word."""

    ngram_range: tuple[int, int]
    lowercase: bool = True

    def __call__(self, doc: str) -> list[str]:
        text = _WHITE_SPACES.sub(" ", doc.lower() if self.lowercase else doc)
        low, high = self.ngram_range
        grams: list[str] = []
        for bare in text.split():
            word = f" {bare} "
            size = len(word)
            if size <= low:  # as scikit-learn: a short word counts once, whole
                grams.append(word)
                continue
            for n in range(low, min(high, size) + 1):
                grams += [word[i : i + n] for i in range(size - n + 1)]
        return grams


class DenseFeatures(Protocol):
    """A step that maps raw texts to a dense matrix (word pieces, sentence vectors, the sentence encoder)."""

    def transform(self, X: Any) -> NDArray[np.floating[Any]]: ...


@dataclass(frozen=True)
class TfidfPart:
    """One TF-IDF block: which text it reads, its analyzer, vocabulary and idf weights."""

    column: int
    analyzer: WordNgrams | CharWbNgrams
    vocabulary: dict[str, int]
    idf: list[float]
    sublinear_tf: bool

    def row(self, doc: str) -> tuple[list[int], list[float]]:
        """The document's l2-normalised entries, as `TfidfVectorizer.transform` makes them.

        Plain Python on purpose: a message has tens of terms, where each numpy call costs
        more than the arithmetic it would vectorise."""
        counts: dict[int, int] = {}
        find = self.vocabulary.get
        for term in self.analyzer(doc):
            j = find(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        idf = self.idf
        if self.sublinear_tf:
            weights = [(math.log(n) + 1.0) * idf[j] for j, n in counts.items()]
        else:
            weights = [n * idf[j] for j, n in counts.items()]
        norm = math.sqrt(sum(w * w for w in weights)) or 1.0
        return list(counts), [w / norm for w in weights]


@dataclass(frozen=True)
class Calibration:
    """Standardisation and logistic calibration learnt on held-out rows (see `bot.classifier`)."""

    rel_mean: float
    rel_std: float
    sim_mean: float
    sim_std: float
    slope: float
    intercept: float
    reject_rate: float
    auto_threshold: float
    coverage_penalty: float
    own_slope: float | None = None
    own_intercept: float = 0.0
    """The logistic calibration of the decision values alone, without the neighbour similarity
    (None where there is none, or in a model saved before): what `own_logit` reads."""

    def logit(self, rel: NDArray[np.float64], sims: NDArray[np.float64] | None) -> NDArray[np.float64]:
        z = (rel - self.rel_mean) / self.rel_std
        if sims is not None:
            z = (z + ((sims - self.sim_mean) / self.sim_std)[:, None]) / np.sqrt(2)
        return self.slope * z + self.intercept

    def own_logit(self, rel: NDArray[np.float64], sims: NDArray[np.float64] | None) -> NDArray[np.float64]:
        """The classifier's own evidence for each intent: `logit` without the neighbour term.

        The neighbour similarity says how close a message is to the training sentences of any
        intent; it lifts every intent's confidence alike, so it tells in scope from out of
        scope but not one intent from another. Which intents are too close to call is read
        here: with it, the confidences near the top crowd together ("где мой заказ?" had its
        runner-up at 0.88 beside 0.97, at 0.68 without it)."""
        if sims is None or self.own_slope is None:
            return self.logit(rel, sims)
        return self.own_slope * (rel - self.rel_mean) / self.rel_std + self.own_intercept


@dataclass
class Scorer:
    """Features -> linear decision values -> calibrated confidences -> `Prediction`s.

    Rows of the feature space are TF-IDF blocks then an optional dense block, l2-normalised
    as a whole. `coef` is (features, labels) so one row's nonzero features gather contiguous
    rows; labels include `oos`, whose decision value is subtracted from the in-scope ones.
    """

    kind: Kind
    parts: list[TfidfPart]
    dense: DenseFeatures | None
    coef: NDArray[np.float32]
    intercept: NDArray[np.float64]
    labels: NDArray[np.object_]
    calibration: Calibration
    threshold: float
    ambiguity_margin: float
    memory: NDArray[np.float32] | None = None
    """L2-normalised dense rows of the in-scope training examples, for the neighbour similarity."""
    neighbours: int = 0
    exact: dict[str, str] | None = None
    """The in-scope training examples by `same_text`, each with its intent (`exact_examples`): a
    message that is one of them is that intent with full confidence, as Dialogflow's and
    Botpress's exact matching make it. None in a model saved before there was such a table."""

    @property
    def classes(self) -> NDArray[np.object_]:
        classes: NDArray[np.object_] = self.labels[self.labels != OOS]
        return classes

    def features(
        self, texts: list[str], normalized: list[str], spelled: list[str] | None = None
    ) -> list[tuple[NDArray[np.int64], NDArray[np.float64]]]:
        """Each row's (column indices, values), l2-normalised like the `Normalizer` step.

        The dense block reads `spelled` (`bot.nlp.Preprocessor.spelled`: the texts with the
        words the speller corrected replaced), by default the texts themselves: in training,
        where nothing is corrected, the two are the same."""
        if len(texts) != len(normalized) or (spelled is not None and len(spelled) != len(texts)):
            raise ClassifierError(f"{len(texts)} texts but {len(normalized)} normalised texts")
        columns = (texts, normalized)
        indices: list[list[int]] = [[] for _ in texts]
        values: list[list[float]] = [[] for _ in texts]
        offset = 0
        for part in self.parts:
            for i, doc in enumerate(columns[part.column]):
                index, weights = part.row(doc)
                indices[i] += [j + offset for j in index] if offset else index
                values[i] += weights
            offset += len(part.vocabulary)
        surface = texts if spelled is None else spelled
        block = np.asarray(self.dense.transform(surface), dtype=np.float64) if self.dense is not None else None
        rows = []
        for i in range(len(texts)):
            cols, row = np.array(indices[i], dtype=np.int64), np.array(values[i], dtype=np.float64)
            if block is not None:
                cols = np.concatenate([cols, np.arange(offset, offset + block.shape[1], dtype=np.int64)])
                row = np.concatenate([row, block[i]])
            rows.append((cols, row / (np.sqrt(row @ row) or 1.0)))
        return rows

    def score_parts(
        self, rows: list[tuple[NDArray[np.int64], NDArray[np.float64]]]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """(n, classes) decision values relative to oos, and (n,) neighbour similarity or None."""
        if not rows:
            return np.zeros((0, len(self.classes))), None if self.memory is None else np.zeros(0)
        d = np.stack([values @ self.coef[index] for index, values in rows]) + self.intercept
        rel = relative_to_oos(d, self.labels)
        if self.memory is None or not self.neighbours:
            return rel, None
        width = self.memory.shape[1]
        embeddings = unit_rows(np.stack([values[-width:] for _, values in rows]))
        return rel, neighbour_similarity(embeddings, self.memory, self.neighbours)

    def unseen_share(self, normalized: list[str]) -> NDArray[np.float64]:
        """Share of each message's words that training never saw."""
        words = self.parts[0]  # the lemma n-grams, first by construction (`_compile` checks)
        assert isinstance(words.analyzer, WordNgrams)
        return np.array([unseen_share(words.analyzer.tokens(doc), words.vocabulary) for doc in normalized])

    def scores(self, texts: list[str], normalized: list[str], spelled: list[str] | None = None) -> NDArray[np.float64]:
        """(n, classes) calibrated confidence that each in-scope intent is right."""
        return self.confidences(texts, normalized, spelled)[0]

    def confidences(
        self, texts: list[str], normalized: list[str], spelled: list[str] | None = None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """`scores`, and the same from the decision values alone (`Calibration.own_logit`),
        which the ambiguity margin reads: the two are the same without a neighbour term."""
        rel, sims = self.score_parts(self.features(texts, normalized, spelled))
        penalty = self.calibration.coverage_penalty * unseen_excess(self.unseen_share(normalized))[:, None]
        nothing = [_WORD.search(doc) is None for doc in normalized]  # "???" asks for nothing
        conf: NDArray[np.float64] = sigmoid(self.calibration.logit(rel, sims) - penalty)
        conf[nothing] = 0.0
        if sims is None or self.calibration.own_slope is None:
            return conf, conf
        own: NDArray[np.float64] = sigmoid(self.calibration.own_logit(rel, sims) - penalty)
        own[nothing] = 0.0
        return conf, own

    def predict(self, texts: list[str], normalized: list[str], spelled: list[str] | None = None) -> list[Prediction]:
        """Each text's prediction; `spelled` as `features` says."""
        if not texts:
            return []
        conf, own = self.confidences(texts, normalized, spelled)
        classes = self.classes
        k = min(TOP_K, conf.shape[1])
        order = np.argsort(-conf, axis=1, kind="stable")[:, :k]
        exact = self.exact or {}
        out = []
        for text, row, own_row, top in zip(texts, conf, own, order, strict=True):
            ranking = [(str(classes[j]), float(row[j])) for j in top]
            known = exact.get(same_text(text)) if exact else None
            if known is not None:
                out.append(exact_match(known, ranking))
                continue
            best = ranking[0][1]
            out.append(
                Prediction(
                    intent=ranking[0][0],
                    confidence=best,
                    ranking=ranking,
                    is_fallback=best < self.threshold,
                    ambiguous=len(top) > 1 and own_row[top[0]] - own_row[top[1]] < self.ambiguity_margin,
                )
            )
        return out


def exact_examples(texts: list[str], labels: list[str]) -> dict[str, str]:
    """The `Scorer.exact` table: each in-scope example's `same_text` key and its intent. A text
    labelled with two intents (an example and a reviewed message that disagree) is left to the
    classifier, as are out-of-scope examples, which it learnt as its `oos` class."""
    table: dict[str, str] = {}
    torn: set[str] = set()
    for text, label in zip(texts, labels, strict=True):
        key = same_text(text)
        if table.setdefault(key, label) != label:
            torn.add(key)
    return {key: label for key, label in table.items() if key not in torn and label != OOS}


def exact_match(intent: str, ranking: list[tuple[str, float]]) -> Prediction:
    """A message that is a training example of `intent`: that intent, sure, with the model's other
    guesses after it."""
    others = [(name, score) for name, score in ranking if name != intent]
    return Prediction(intent, 1.0, [(intent, 1.0), *others][:TOP_K], is_fallback=False, ambiguous=False)


def relative_to_oos(decision: NDArray[np.float64], labels: NDArray[np.object_]) -> NDArray[np.float64]:
    """In-scope decision values minus the `oos` one (as is, when no oos examples were trained)."""
    inscope = labels != OOS
    return decision[:, inscope] - (decision[:, ~inscope][:, :1] if (~inscope).any() else 0.0)


def unit_rows(rows: Any) -> NDArray[np.float32]:
    """Rows scaled to length 1, as float32 (the neighbour memory's type)."""
    matrix = np.asarray(rows, dtype=np.float32)
    return np.asarray(matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12), dtype=np.float32)


def neighbour_similarity(embeddings: NDArray[np.float32], memory: NDArray[np.float32], k: int) -> NDArray[np.float64]:
    """Mean cosine similarity of each (unit) row to its `k` nearest (unit) memory rows."""
    sims = embeddings @ memory.T
    k = min(k, sims.shape[1])
    nearest: NDArray[np.float64] = np.partition(sims, -k, axis=1)[:, -k:].mean(axis=1, dtype=np.float64)
    return nearest


def unseen_share(tokens: list[str], known: Container[str]) -> float:
    """Share of the words among `tokens` not in `known`; all of a message without words,
    such as "???": the question mark the word n-grams keep is no word."""
    words = [t for t in tokens if t != "?"]
    return sum(t not in known for t in words) / len(words) if words else 1.0


def unseen_excess(unseen: NDArray[np.float64]) -> NDArray[np.float64]:
    """Share of unseen words mapped to [0, 1]: 0 up to half, 1 when no word was seen."""
    return np.clip(2.0 * unseen - 1.0, 0.0, 1.0)


def sigmoid(x: Any) -> Any:
    """The logistic function, for arrays and scalars alike."""
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
