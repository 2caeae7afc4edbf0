"""The held-out split shared by training, retraining and evaluation."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from bot.held_out import CV_FOLDS, held_out_folds, held_out_split
from bot.understanding import same_text


def _labels(counts: dict[str, int]) -> list[str]:
    return [label for label, n in counts.items() for _ in range(n)]


@pytest.mark.parametrize("counts", [{"a": 5, "b": 5, "c": 2}, {"a": 1, "b": 9}, {"a": 2, "b": 2, "c": 2, "d": 2}])
def test_split_partitions_the_rows(counts: dict[str, int]) -> None:
    labels = _labels(counts)
    train, test = held_out_split(labels, 3, seed=0)
    assert len(test) == 3
    assert sorted([*train, *test]) == list(range(len(labels)))


def test_split_is_stratified_when_every_label_has_two_examples() -> None:
    labels = _labels({"a": 5, "b": 5, "c": 10})
    for seed in range(10):
        _, test = held_out_split(labels, 4, seed)
        assert Counter(labels[i] for i in test) == {"a": 1, "b": 1, "c": 2}


def test_split_is_plain_when_a_label_has_one_example_or_too_few_rows_are_held_out() -> None:
    single = _labels({"a": 1, "b": 9, "c": 10})
    assert len(held_out_split(single, 4, seed=0)[1]) == 4  # stratifying would raise here
    many = _labels(dict.fromkeys("abcdef", 2))
    assert len(held_out_split(many, 3, seed=0)[1]) == 3  # as here: fewer held-out rows than labels


def test_split_depends_only_on_the_labels_and_seed() -> None:
    labels = _labels({"a": 6, "b": 6})
    first, again = held_out_split(labels, 3, seed=4), held_out_split(list(labels), 3, seed=4)
    assert all((x == y).all() for x, y in zip(first, again, strict=True))


def test_folds_by_size() -> None:
    def folds(n: int) -> int:
        return len(held_out_folds(np.array(_labels({"a": n // 2, "b": n - n // 2}), dtype=object), seed=0))

    assert folds(8) == 0  # too small to hold any out
    assert folds(100) == 1  # one held-out fifth
    assert folds(300) == CV_FOLDS  # out-of-fold rows
    assert folds(3000) == 1


def test_same_text_ignores_case_and_spacing_only() -> None:
    assert same_text("  Where IS\tmy  order ") == same_text("where is my order") == "where is my order"
    assert same_text("STRASSE") == same_text("straße")
    assert same_text("where is my order?") != same_text("where is my order")
