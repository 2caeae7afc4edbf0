"""The entity tagger: learns values it never saw from a few annotated examples, and costs nothing without any."""

from __future__ import annotations

import pickle
from collections import Counter

import pycrfsuite
import pytest

from bot.markup import Example
from bot.nlp import Preprocessor
from bot.tagger import EntityTagger, TaggerError, bio_tags, doc_features, first_words, gazetteer_marks
from bot.tagger_attributes import attribute, doc_attributes
from training.retraining import Dataset, fit_tagger

BOOKINGS = [
    "book a table for [Anna](name) at [seven](time)",
    "reserve a table under [Peter](name)",
    "a table for [Maria](name) please",
    "can you book it for [John Smith](name)",
    "my name is [Oleg](name)",
    "the booking is for [Emily Clarke](name) at [eight](time)",
    "put it under [Kenji](name)",
    "table for [Fatima](name) at [nine](time) tonight",
    "reserve for [Lucas](name)",
    "book under the name [Ingrid](name)",
    "i am [Carlos](name) and i want a table",
    "name is [Zoe Adams](name), a table at [six](time)",
]
WEATHER = [
    "what's the weather in [Paris](city)",
    "is it raining in [Berlin](city)",
    "weather for [New York](city) tomorrow",
    "will it snow in [Oslo](city)",
    "forecast for [Madrid](city)",
    "how hot is it in [Cairo](city)",
    "temperature in [Tokyo](city) please",
    "is it sunny in [Lima](city)",
]


def _train() -> tuple[list[str], list[tuple[object, ...]], list[str]]:
    examples = [(Example.parse(m), "book") for m in BOOKINGS] + [(Example.parse(m), "weather") for m in WEATHER]
    return [e.text for e, _ in examples], [e.entities for e, _ in examples], [i for _, i in examples]


@pytest.fixture(scope="module")
def tagger() -> EntityTagger:
    texts, annotations, intents = _train()
    return EntityTagger("en").fit(texts, annotations, intents=intents)  # type: ignore[arg-type]


def test_learns_values_never_seen_in_training(tagger: EntityTagger) -> None:
    [booking], [weather] = (
        tagger.predict(["a table for Svetlana please"], ["book"]),
        tagger.predict(["what's the weather in Reykjavik"], ["weather"]),
    )
    assert [(e.entity, e.text, e.start, e.end) for e in booking] == [("name", "Svetlana", 12, 20)]
    assert [(e.entity, e.value) for e in weather] == [("city", "Reykjavik")]
    for entity in booking + weather:
        assert entity.source == "model"
        assert 0.5 < entity.confidence <= 1.0


def test_without_the_intent_it_still_tags_by_context(tagger: EntityTagger) -> None:
    [found] = tagger.predict(["reserve a table under Hiroshi"])
    assert [(e.entity, e.text) for e in found] == [("name", "Hiroshi")]


def test_knows_which_intent_carries_which_entity_types(tagger: EntityTagger) -> None:
    assert tagger.intent_entities == {"book": frozenset({"name", "time"}), "weather": frozenset({"city"})}
    assert tagger.entity_types == frozenset({"name", "time", "city"})


def test_pickles_with_its_model_and_predicts_the_same(tagger: EntityTagger) -> None:
    texts = ["a table for Svetlana please", "is it raining in Quito", "hello"]
    again = pickle.loads(pickle.dumps(tagger))
    assert again.predict(texts, ["book", "weather", None]) == tagger.predict(texts, ["book", "weather", None])


def test_bio_tags_follow_the_token_a_span_starts_in() -> None:
    pre = Preprocessor("en")
    example = Example.parse("book for [John Smith](name), thanks")
    assert bio_tags(pre.nlp(example.text), example.entities) == ["O", "O", "B-name", "I-name", "O", "O"]


def test_no_annotations_no_tagger() -> None:
    with pytest.raises(TaggerError, match=r"mark them as \[text\]\(entity\)"):
        EntityTagger("en").fit(["hello there"], [()])
    data = Dataset(["hello", "bye"], ["hello", "bye"], ["greet", "bye"], Counter(), "en", [(), ()])
    assert fit_tagger(data, Preprocessor("en")) is None


def _read(features: list[dict[str, str | float]] | list[list[str]]) -> list[list[tuple[str, float]]]:
    """What CRFsuite reads of a doc's features: each token's attributes with their weights, in
    order, but those of weight 0 (they add nothing to any score)."""
    return [[(a, w) for a, w in item.items() if w != 0.0] for item in pycrfsuite.ItemSequence(features).items()]


def test_serving_features_are_the_training_features(tagger: EntityTagger) -> None:
    """The attribute strings the tagger serves with (cached by token) and its first-word shortcut
    in the gazetteer change nothing the CRF reads: the training features' attributes in their
    order, and so the same tags, marginals and probability, to the last bit."""
    texts = [*BOOKINGS, *WEATHER, "a table for Anna and Anna again", "weather in New York and new york", ""]
    texts += ["Book A TABLE for 2 at 7:30, Dr. O'Neil!", "  ", "42", "weather?? in   ROME"]
    crf = tagger._open()
    for doc in tagger._docs([Example.parse(t).text for t in texts]):
        marks = gazetteer_marks(doc, tagger.gazetteer)
        assert gazetteer_marks(doc, tagger.gazetteer, starts=first_words(tagger.gazetteer)) == marks
        for intent in (None, "book"):
            training = doc_features(doc, intent, marks)
            serving = doc_attributes(doc, tagger._cached_attributes, intent, marks)
            assert _read(serving) == _read(training)
            if not len(doc):
                continue
            crf.set(training)
            tags = crf.tag()
            seen = (tags, [crf.marginal(t, i) for i, t in enumerate(tags)], crf.probability(tags))
            crf.set(serving)
            assert (crf.tag(), [crf.marginal(t, i) for i, t in enumerate(tags)], crf.probability(tags)) == seen


def test_attributes_are_what_crfsuite_makes_of_a_feature() -> None:
    assert pycrfsuite.ItemSequence([{"w": "anna", "t": 1.0, "u": 0.0}]).items() == [{"w:anna": 1.0, "t": 1.0, "u": 0.0}]
    assert [attribute("w", "anna"), attribute("t", 1.0), attribute("u", 0.0)] == ["w:anna", "t", None]
    with pytest.raises(ValueError, match="only 0 and 1"):
        attribute("x", 0.5)
