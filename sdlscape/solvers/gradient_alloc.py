"""Keep freed memory in the process while training (glibc): no page faults on each step's big buffers.

A paper-size TopK step allocates and frees a handful of 50-65 MB buffers (the pre-activations x W_E^T, the
two parameter gradients).  glibc serves every request above 32 MB by a fresh mmap and unmaps it on free,
so each step first-touches ~300 MB of new pages: about 150 ms of a 0.74 s step at 768 x 16000, batch 1024,
1 thread (the same step with mmap disabled: 0.59 s, parameters bit-identical).  Inside
:func:`keep_freed_memory` glibc serves them from its heap and keeps what is freed (M_MMAP_MAX = 0, a
2 GiB trim threshold); on exit the defaults come back and the kept memory is returned (malloc_trim).
Numerics are untouched: only where the bytes live changes.  Elsewhere than glibc it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading
from contextlib import contextmanager

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
# glibc's defaults, and the 32 MB mmap threshold its dynamic rule reaches after the first big free
_DEFAULT_MMAP_MAX, _GROWN_MMAP_THRESHOLD = 65536, 32 * 1024 * 1024
_KEEP_TRIM = 2**31 - 1
_lock = threading.Lock()
_depth = 0


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()


@contextmanager
def keep_freed_memory(enabled: bool = True):
    """Within: large allocations come from glibc's heap and stay there when freed (module docstring)."""
    global _depth
    if not enabled or _LIBC is None:
        yield False
        return
    with _lock:
        if _depth == 0:
            _LIBC.mallopt(_M_MMAP_MAX, 0)
            _LIBC.mallopt(_M_TRIM_THRESHOLD, _KEEP_TRIM)
        _depth += 1
    try:
        yield True
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _LIBC.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                _LIBC.mallopt(_M_MMAP_THRESHOLD, _GROWN_MMAP_THRESHOLD)
                _LIBC.mallopt(_M_TRIM_THRESHOLD, 2 * _GROWN_MMAP_THRESHOLD)
                _LIBC.malloc_trim(0)
