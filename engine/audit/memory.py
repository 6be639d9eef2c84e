"""Keep freed memory in the process while a big book is audited (glibc's ``mallopt``; elsewhere a no-op).

An audit of a million rows allocates and frees thousands of arrays of 1–40 MB. By default glibc gives such
memory back to the kernel when it is freed and asks for fresh pages for the next array, which the kernel must
zero on first touch: on the benchmark machine that was a third of the audit's CPU time. A process that audits
a big book (``carerules audit``, the benchmarks) asks glibc to serve arrays up to 32 MB from its heap and not to
trim the heap, so freed memory is reused. Nothing else changes: the same arrays, the same outputs; the peak
memory stays that of the largest set of arrays alive at once. Not used by the API server (a long-running
process should give memory back).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
HEAP_UP_TO_BYTES = 32 * 1024 * 1024  # the largest threshold glibc accepts for serving from the heap
NEVER_TRIM_BYTES = 2**31 - 1  # mallopt takes a C int


def keep_freed_memory() -> bool:
    """Ask glibc to keep and reuse freed memory in this process; False where there is no glibc to ask."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_UP_TO_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, NEVER_TRIM_BYTES))
