"""Keeping a long-running server's memory flat: what the collector walks, what malloc keeps."""

from __future__ import annotations

import contextlib
import ctypes
import gc

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LARGE_BLOCK = 128 * 1024


def freeze_heap() -> None:
    """Hide what is loaded (model, spaCy's lookup tables, modules) from the cyclic collector.

    Otherwise every full collection walks those ~200,000 objects: 15-110 ms during which no
    message is answered, which was a loaded server's p99. Later objects are collected as
    usual. Unfreezing first lets a replaced model's reference cycles be collected.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def return_large_blocks() -> None:
    """Keep blocks of 128 KiB and more in their own mappings, which go back to the system when freed.

    glibc raises its mmap threshold each time such a block is freed (up to 32 MiB), so after
    a model reload the next model's arrays land in the heap, which fragments and never shrinks:
    twenty reloads grew a process by 32 MB, against 15 MB with the threshold fixed. Elsewhere
    than glibc there is nothing to do.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)
