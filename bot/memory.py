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


def collect_young_every(allocations: int) -> int:
    """Let `allocations` new container objects pile up before a young collection (Python's 700).

    At 700, under load, a young collection ran every 13-18 chat turns and walked the young
    objects of every turn in flight (~0.9 ms each); with the older generations' collections
    this promotes into, 90-140 µs of server CPU a message, more while turns wait on actions
    (their objects live through more collections). At 20,000: 4-9 µs (bench/RESULTS.md).
    Nearly everything young is freed by reference counting before the collector looks; a
    higher threshold only keeps garbage cycles a little longer. Returns the old value.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(allocations, middle, old)
    return young


def return_large_blocks() -> None:
    """Keep blocks of 128 KiB and more in their own mappings, which go back to the system when freed.

    glibc raises its mmap threshold each time such a block is freed (up to 32 MiB), so after
    a model reload the next model's arrays land in the heap, which fragments and never shrinks:
    twenty reloads grew a process by 32 MB, against 15 MB with the threshold fixed. Elsewhere
    than glibc there is nothing to do.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)
