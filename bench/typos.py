"""What the speller is worth to each feature block: cross-validated accuracy with a typo in every held-out message.

    python bench/typos.py [--bots intents.yaml,examples/ru/intents.yaml,examples/multilingual/intents.yaml]

Each bot's examples are split into `training.fit`'s 5 stratified folds; a fold model is fitted
on the training part as `training.fit` builds it. Every held-out message then gets one typo
(a letter dropped, doubled or swapped with the next, inside a word of 5 letters or more;
seeded), and is read four ways: as written without typo (`clean`), with the typo and no
speller (`no speller`), with the speller correcting the word n-grams only (`lemmas`), and with
the dense block (sentence vectors, word pieces) reading the corrected text too (`lemmas+dense`,
as a served model does). Accuracy counts the fallback as `oos`.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from bot.classifier import OOS, IntentClassifier  # noqa: E402
from bot.domain import load_domain  # noqa: E402
from bot.nlp import Preprocessor  # noqa: E402
from training.fit import domain_languages, pipeline_for  # noqa: E402
from training.languages import Readers  # noqa: E402
from training.retraining import gather  # noqa: E402

WAYS = ("clean", "no speller", "lemmas", "lemmas+dense")
_LONG_WORD = re.compile(r"[^\W\d_]{5,}")


def with_typo(text: str, rng: random.Random) -> str:
    """`text` with one typo in one of its words of 5 letters or more (as it is without one)."""
    words = list(_LONG_WORD.finditer(text))
    if not words:
        return text
    m = rng.choice(words)
    w, i = m.group(), rng.randrange(1, len(m.group()) - 1)
    kind = rng.choice(("drop", "double", "swap"))
    typo = {"drop": w[:i] + w[i + 1 :], "double": w[:i] + w[i] + w[i:], "swap": w[:i] + w[i + 1] + w[i] + w[i + 2 :]}
    return text[: m.start()] + typo[kind] + text[m.end() :]


def bench(path: Path, folds: int, seed: int) -> tuple[str, dict[str, float], int]:
    domain = load_domain(path)
    pre = Preprocessor(domain.language, domain.entities)
    data = gather(domain, pre, None)
    kind = pipeline_for(domain_languages(domain))
    readers = Readers.for_domain(domain, pre)
    labels = np.array(data.labels, dtype=object)
    rng = random.Random(seed)
    right = dict.fromkeys(WAYS, 0)
    corrected = 0
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(data.texts, labels):
        clf = IntentClassifier(kind=kind, seed=seed, language=data.classifier_language)
        clf.fit([data.texts[i] for i in train], [data.normalized[i] for i in train], labels[train].tolist())
        clean = [data.texts[i] for i in test]
        texts = [with_typo(t, rng) for t in clean]
        languages = [data.text_languages[i] for i in test] if data.text_languages else None
        plain, _ = readers.read_many(texts, languages)
        readers.set_speller(clf.scorer_)
        normalized, spelled = readers.read_many(texts, languages)
        readers.set_speller(None)
        corrected += sum(a != b for a, b in zip(texts, spelled, strict=True))
        runs = {
            "clean": clf.predict(clean, [data.normalized[i] for i in test]),
            "no speller": clf.predict(texts, plain),
            "lemmas": clf.predict(texts, normalized),
            "lemmas+dense": clf.predict(texts, normalized, spelled),
        }
        for way, predictions in runs.items():
            got = [OOS if p.is_fallback else p.intent for p in predictions]
            right[way] += sum(g == y for g, y in zip(got, labels[test], strict=True))
    return kind, {way: right[way] / len(labels) for way in WAYS}, corrected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bots", default="intents.yaml,examples/ru/intents.yaml,examples/multilingual/intents.yaml")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{'bot':<36} {'pipeline':<13}" + "".join(f"{w:>14}" for w in WAYS) + "  corrected")
    for bot in args.bots.split(","):
        kind, accuracy, corrected = bench(ROOT / bot, args.folds, args.seed)
        print(f"{bot:<36} {kind:<13}" + "".join(f"{100 * accuracy[w]:14.2f}" for w in WAYS) + f"  {corrected}")


if __name__ == "__main__":
    main()
