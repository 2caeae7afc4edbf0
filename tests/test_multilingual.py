"""One bot in two languages: one model, each text read in its own language (`bot.model`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.model import load_model
from tests.test_domain import multilingual_example
from training.fit import main as fit

MORE = """
  greet:
    examples:
      en: [hi, hello, good morning, hey there]
      ru: [привет, здравствуйте, доброе утро, добрый день]
    responses:
      en: ["Hello!"]
      ru: ["Здравствуйте!"]
  goodbye:
    examples:
      en: [bye, see you later, goodbye, that's all thanks]
      ru: [пока, до свидания, всего доброго, на этом всё]
    responses:
      en: ["Bye!"]
      ru: ["До свидания!"]
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("multilingual")
    intents = folder / "intents.yaml"
    text = multilingual_example().replace(
        '      ru: ["где мой заказ", "статус заказа [AB123456](order_number)"]',
        '      ru: ["где мой заказ", "статус заказа [AB123456](order_number)", "когда привезут посылку"]',
    )
    intents.write_text(text + MORE, encoding="utf-8")
    assert fit(["--intents", str(intents), "--out", str(folder / "models"), "--quick"]) == 0
    return folder


def test_one_model_understands_both_languages_each_lemmatised_in_its_own(model_dir: Path) -> None:
    model = load_model(model_dir / "models", model_dir / "intents.yaml")
    assert model.metadata["languages"] == ["en", "ru"]
    ru, en = model.understand(["где мои заказы", "where are my orders"])
    assert (ru.prediction.intent, en.prediction.intent) == ("order_status", "order_status")
    assert ru.normalized.split()[:3] == ["где", "мой", "заказ"]  # pymorphy3's lemmas
    assert "order" in en.normalized.split()  # spaCy's English lemma of "orders"


def test_the_session_language_picks_the_preprocessor(model_dir: Path) -> None:
    model = load_model(model_dir / "models")
    assert model.preprocessor_for("hello", "ru").language == "ru"
    assert model.preprocessor_for("привет").language == "ru"
    assert model.preprocessor_for("привет", "en").language == "en"
    assert model.preprocessor_for("hello", "de").language == "en"  # undeclared: the default
    (hello,) = model.understand(["привет"], language="ru")
    assert hello.prediction.intent == "greet"
    assert model.domain.for_language("ru").intents["greet"].responses[0].text == "Здравствуйте!"


def test_a_batch_of_several_sessions_gives_each_text_its_language(model_dir: Path) -> None:
    model = load_model(model_dir / "models")
    hello, bye = model.understand(["привет", "bye"], language=["ru", None])
    assert (hello.prediction.intent, bye.prediction.intent) == ("greet", "goodbye")
    with pytest.raises(ValueError, match="2 texts but 1 languages"):
        model.understand(["a", "b"], language=["en"])
