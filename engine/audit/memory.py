"""Reuse freed memory in the process while a big book is audited.

An audit of a million rows allocates and frees thousands of arrays of 1–40 MB. By default glibc gives such memory
back to the kernel when it is freed and asks for fresh pages for the next array, which the kernel must zero on first
touch: on the benchmark machine that was a third of the audit's CPU time. A process that audits a big book
(``carerules audit``, the benchmarks) asks glibc (``mallopt``) to serve arrays up to 32 MB from its heap and not to
trim the heap, to keep one heap for every thread (by default each thread that allocates while another does gets a
heap of its own, and memory freed in the other core's heap — the KPI date's figures, the results table's blocks —
was held there while the audit's own thread asked the kernel for more: 0.4 GB of a 1,000,000-row audit's peak), and
gives Arrow's buffers to jemalloc (which hands memory back only after a while unused: here 50 ms) instead of
mimalloc, Arrow's default here. Between its phases a big lean audit hands glibc's free heap pages back at once
(``hand_back``): the holes the evaluation's blocks leave are of other sizes than the next phase's arrays and would
otherwise stay resident. Nothing else changes: the same arrays, the same outputs; the peak memory was lower, not
higher. Not used by the API server (a long-running process should give memory back as it goes).

``limit_memory`` caps a process's address space (RLIMIT_AS): the API's audit children run under it, so a book
that needs more memory than the setting fails inside its own process (MemoryError, or the process stops) and
the API answers 422 with the limit named, while the server and other requests carry on.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy and the engine imported when used: the CLI imports this module before pyarrow starts
    import numpy as np

    from engine.validate.batch import Col

try:
    import resource
except ImportError:  # not on Windows: no limit there
    resource = None  # type: ignore[assignment]

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
ONE_ARENA = 1  # every thread allocates from the main heap: memory one thread frees, another reuses
HEAP_UP_TO_BYTES = 32 * 1024 * 1024  # the largest threshold glibc accepts for serving from the heap
NEVER_TRIM_BYTES = 2**31 - 1  # mallopt takes a C int
# jemalloc hands an Arrow buffer's freed pages back to the kernel within 50 ms rather than its default decay: the
# texts of results.csv's blocks, freed a block at a time, are not held beside the KPIs (1,000,000 rows: peak ~150
# MiB lower, time within its spread; 0 ms: ~260 MiB lower but ~10% slower; docs/benchmarks.md, "Arrow's freed pages")
JEMALLOC_DECAY_MS = 50


def keep_freed_memory() -> bool:
    """Ask glibc to keep and reuse freed memory in this process, and Arrow to use jemalloc where it has it;
    False where there is no glibc to ask."""
    import numpy as np
    import pyarrow as pa

    with contextlib.suppress(NotImplementedError):  # a pyarrow built without jemalloc keeps its own default
        pa.set_memory_pool(pa.jemalloc_memory_pool())
        pa.jemalloc_set_decay_ms(JEMALLOC_DECAY_MS)  # freed pages handed back soon (arenas made from now on)
    with contextlib.suppress(AttributeError):  # numpy's own switch (as NUMPY_MADVISE_HUGEPAGE=0 at start-up)
        np._core.multiarray._set_madvise_hugepage(False)  # type: ignore[attr-defined]
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return (
        bool(mallopt(M_MMAP_THRESHOLD, HEAP_UP_TO_BYTES))
        and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM_BYTES))
        and one_heap()
    )


def hand_back() -> bool:
    """Give glibc's free heap pages back to the kernel now (``malloc_trim(0)``: the free pages inside the heap
    too, not only its top); False where there is no glibc to ask. A big audit asks at the two points where
    much is freed between phases whose arrays are of other sizes (the free holes would otherwise stay resident
    until reused); what is used again is a fresh page, a fault on first touch."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True


def hold_once(cols: dict[str, Col], n: int) -> int:
    """Replace, in place of ``cols``' own arrays, every column's values that are all zero and every mask that is
    all true or all false by one read-only array of each (its type, ``n`` long) shared by every such column: a
    book's absent or empty columns and its masks with no gap are then held once, not once a column (a
    1,000,000-row book: ~100 MB). The same values; an attempt to write into a shared array raises. The number
    of arrays let go."""
    import numpy as np

    from engine.validate.batch import Col

    shared: dict[tuple[str, bool], np.ndarray] = {}

    def one(dtype: np.dtype[Any], value: bool) -> np.ndarray:
        key = (dtype.str, value)
        if key not in shared:
            made = np.ones(n, dtype) if value else np.zeros(n, dtype)
            made.flags.writeable = False
            shared[key] = made
        return shared[key]

    let_go = 0
    for name, col in cols.items():
        v, ok = col.v, col.ok
        if v.ndim != 1 or ok.ndim != 1 or len(v) != n or len(ok) != n:
            continue
        if v.flags.writeable and not v.any():
            v, let_go = one(v.dtype, False), let_go + 1
        if ok.flags.writeable and ok.dtype == np.bool_:
            if ok.all():
                ok, let_go = one(ok.dtype, True), let_go + 1
            elif not ok.any():
                ok, let_go = one(ok.dtype, False), let_go + 1
        if v is not col.v or ok is not col.ok:
            cols[name] = Col(v, ok, col.cats)
    return let_go


def one_heap() -> bool:
    """Ask glibc to serve every thread from one heap (``mallopt(M_ARENA_MAX, 1)``); False where there is no glibc
    to ask. Only threads that have not yet allocated are held to it: importing pyarrow starts threads that do, so
    the CLI asks first thing for ``carerules audit`` and ``bench audit`` (``engine/cli/__init__.py``), and
    ``keep_freed_memory`` asks again for the threads an audit starts."""
    mallopt = _mallopt()
    return mallopt is not None and bool(mallopt(M_ARENA_MAX, ONE_ARENA))


def _mallopt() -> Any:
    """glibc's ``mallopt``, or None where there is no glibc to ask."""
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


def _libc_function(name: str) -> Any:
    """A function of glibc, or None where there is no glibc (or no such function)."""
    libc = _libc()
    return getattr(libc, name, None) if libc is not None else None


@functools.cache
def _libc() -> Any:
    """glibc, found once a process (``find_library`` runs ``ldconfig -p`` in a child process each time it is asked:
    an audit asked seven times), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def limit_memory(limit_bytes: int) -> bool:
    """Cap this process's address space at ``limit_bytes`` (soft and hard: it cannot be raised again); False where
    the system has no such limit. Allocations past it fail: MemoryError in Python, numpy and Arrow; an abort in
    native code that cannot report one (calamine)."""
    if resource is None or not hasattr(resource, "RLIMIT_AS"):
        return False
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = limit_bytes if hard == resource.RLIM_INFINITY else min(limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return True
