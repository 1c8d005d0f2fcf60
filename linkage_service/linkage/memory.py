"""Freed arrays go back to the operating system (glibc), so a job's peak is its live arrays.

glibc serves allocations under its mmap threshold from the heap, and raises that threshold
each time a large block is freed (up to 32 MiB): the job's arrays of a few million pairs then
come from the heap, and the memory they leave behind stays with the process, fragmented, for
the next stage to grow on (measured: 3 × 300k, peak 3.6 GB, of which a third freed blocks).
A fixed threshold of 1 MiB keeps small objects on the heap and maps every large array on its
own, returned whole when it is freed. Elsewhere than glibc this does nothing.

>>> large_blocks_mapped() in (True, False)
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator

__all__ = ["MMAP_THRESHOLD", "PAIR_CHUNK", "large_blocks_mapped", "pair_chunks"]

MMAP_THRESHOLD = 1 << 20
# Pairs handled at once by the stages that read pair arrays a chunk at a time: bounds their
# 8-byte temporaries to a few tens of MB each.
PAIR_CHUNK = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
_lock = threading.Lock()
_done: bool | None = None


def large_blocks_mapped() -> bool:
    """Set glibc's fixed mmap threshold once per process; True where it took effect."""
    global _done
    with _lock:
        if _done is None:
            _done = False
            name = ctypes.util.find_library("c")
            try:
                libc = ctypes.CDLL(name) if name else None
                mallopt = getattr(libc, "mallopt", None)
                if mallopt is not None and getattr(libc, "gnu_get_libc_version", None):
                    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
            except OSError:
                _done = False
        return _done


def pair_chunks(size: int, *, at_least_one: bool = False,
                chunk: int = PAIR_CHUNK) -> Iterator[slice]:
    """Slices of ``chunk`` (default ``PAIR_CHUNK``) over ``size`` pairs (one empty slice for
    none when ``at_least_one``: a caller that learns its output's columns from the first
    chunk). Loops that read pairs as Python ints take smaller chunks (the lists cost about
    40 bytes an entry).

    >>> [(s.start, s.stop) for s in pair_chunks(3)], len(list(pair_chunks(0, at_least_one=True)))
    ([(0, 1048576)], 1)
    >>> [(s.start, s.stop) for s in pair_chunks(5, chunk=2)]
    [(0, 2), (2, 4), (4, 6)]
    """
    for start in range(0, max(size, 1) if at_least_one else size, chunk):
        yield slice(start, start + chunk)
