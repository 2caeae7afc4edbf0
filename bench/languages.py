"""One model for every language, or one per language? Cross-validated on the shipped bots.

    python bench/languages.py [--folds 5] [--bots intents.yaml,examples/ru/intents.yaml]
    python bench/nlu.py --languages          (the same rows)

The bots (by default the English demo and the Russian bot, or any bot of several languages,
whose languages count as bots) are split into the same stratified folds, each language on its
own. For each fold three models are fitted: one per language on that language's training part
(as a bot of one language is), one on every language's training part without language-specific
features, and one on all of it as `training.fit` builds it for `languages: [en, ru]` (with the
English word pieces, `training.languages.classifier_language`). Each is scored on each
language's held-out part: accuracy with the fallback counted as `oos`, each text lemmatised
in its own language.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402

from bot.classifier import OOS, IntentClassifier  # noqa: E402
from bot.domain import load_domain  # noqa: E402
from bot.nlp import Preprocessor  # noqa: E402
from training.languages import classifier_language  # noqa: E402

DEFAULT_BOTS = (ROOT / "intents.yaml", ROOT / "examples" / "ru" / "intents.yaml")


def language_data(paths: list[Path]) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """(texts, normalised texts, intents) of each language of the bots."""
    data: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for path in paths:
        domain = load_domain(path)
        for language, pairs in domain.examples_by_language().items():
            texts = [t for t, _ in pairs]
            pre = Preprocessor(language, domain.entities)
            old = data.get(language, ([], [], []))
            data[language] = (old[0] + texts, old[1] + pre.normalize_many(texts), old[2] + [i for _, i in pairs])
    return data


def compare(paths: list[Path], folds: int = 5, seed: int = 0, kind: str = "light") -> dict[str, dict[str, float]]:
    """Accuracy by model setup and language over the held-out folds."""
    data = language_data(paths)
    splits = {}
    for language, (texts, _, labels) in data.items():
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits[language] = list(splitter.split(texts, labels))
    setups = ("one per language", "one model, no word pieces", "one model (training.fit)")
    right: dict[str, dict[str, int]] = {setup: dict.fromkeys(data, 0) for setup in setups}
    languages = list(data)
    for k in range(folds):
        train = {x: splits[x][k][0] for x in languages}
        test = {x: splits[x][k][1] for x in languages}

        def rows(x: str, idx: np.ndarray) -> tuple[list[str], list[str], list[str]]:
            texts, normalized, labels = data[x]
            return [texts[i] for i in idx], [normalized[i] for i in idx], [labels[i] for i in idx]

        def score(clf: IntentClassifier, x: str, test: dict[str, np.ndarray] = test) -> int:
            texts, normalized, labels = rows(x, test[x])
            got = [OOS if p.is_fallback else p.intent for p in clf.predict(texts, normalized)]
            return sum(a == b for a, b in zip(got, labels, strict=True))

        for x in languages:
            clf = IntentClassifier(kind=kind, seed=seed, language=x).fit(*rows(x, train[x]))  # type: ignore[arg-type]
            right["one per language"][x] += score(clf, x)
        texts, normalized, labels = [], [], []
        for x in languages:
            part = rows(x, train[x])
            texts += part[0]
            normalized += part[1]
            labels += part[2]
        for setup, built_for in (("one model, no word pieces", "+".join(languages)),
                                 ("one model (training.fit)", classifier_language(languages))):  # fmt: skip
            clf = IntentClassifier(kind=kind, seed=seed, language=built_for).fit(texts, normalized, labels)  # type: ignore[arg-type]
            for x in languages:
                right[setup][x] += score(clf, x)
    return {setup: {x: n / len(data[x][0]) for x, n in by.items()} for setup, by in right.items()}


def rows(paths: list[Path], folds: int = 5, kind: str = "light") -> list[str]:
    results = compare(paths, folds, kind=kind)
    languages = list(next(iter(results.values())))
    lines = [f"{'setup (' + kind + ', ' + str(folds) + '-fold)':<32} " + " ".join(f"{x:>7}" for x in languages)]
    lines += [f"{setup:<32} " + " ".join(f"{100 * acc[x]:7.2f}" for x in languages) for setup, acc in results.items()]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bots", default=",".join(str(p.relative_to(ROOT)) for p in DEFAULT_BOTS))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--pipeline", default="light")
    args = parser.parse_args(argv)
    paths = [ROOT / p.strip() for p in args.bots.split(",")]
    print("\n".join(rows(paths, args.folds, args.pipeline)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
