"""One BLAS thread for the exact side: its linear algebra is many tiny dense problems (2-12 unknowns).

scipy's L-BFGS-B (1.15+) calls BLAS/LAPACK at every iteration; with OpenBLAS's default thread pool (one thread per
core) each of those tiny calls wakes and waits for the pool, and on a busy 2-core machine an iteration on 4 unknowns
took 5.5-6.6 ms instead of 0.09-0.14 ms, the whole certificate of a ReLU n = 6 instance 2.8x the CPU time
(benchmarks/bench_certify.py; results/landscape/README.md). torch's own threads (OpenMP) are not BLAS pools here and
are left alone, as is a caller's numpy outside these entry points.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

_controller = None


@contextmanager
def one_blas_thread():
    """Limit numpy's and scipy's BLAS pools to one thread inside (a no-op without threadpoolctl)."""
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:              # threadpoolctl comes with scikit-learn; without it nothing is limited
            yield
            return
        import scipy.optimize  # noqa: F401  (load scipy's own OpenBLAS before the libraries are listed)

        _controller = ThreadpoolController()
    with _controller.limit(limits=1, user_api="blas"):
        yield


def single_blas_thread(fn):
    """Decorator: run fn under one_blas_thread()."""
    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        with one_blas_thread():
            return fn(*args, **kwargs)
    return wrapped
