"""The two convex blocks of L~ inside one activation-pattern piece (Thm 3.2), solved exactly with CVXPY.

Inside the region Omega_P of a pattern P (eq. 13) sigma(W_E w_p^d) = A[:, d] * (W_E w_p^d), with A the
pattern's mask, so L~ (eq. 11) is the quadratic
    L~(W_D, W_E) = sum_d M_d || w_r^d - W_D (A[:, d] * (W_E w_p^d)) ||^2,
a least-squares problem in W_D for fixed W_E (decoder block) and a convex QP in W_E over the closed,
margin-tightened region G vec(W_E) <= h for fixed W_D (encoder block).

Each block is compiled once per piece with cvxpy Parameters (DPP), so that re-solving it inside
alternating convex search only refreshes the parameter data. Every reported value is recomputed
with sdlscape.theory.loss (the one loss implementation), never read off the solver.
"""
from __future__ import annotations

import functools
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_loss, check_weights, passed_mask
from sdlscape.theory.piece import Piece
from sdlscape.theory.region import Region

SOLVERS = ("CLARABEL", "OSQP")

# Tight tolerances (tighter ones make Clarabel report almost-solved): certificates compare values to ~1e-8.
_TOL = numerics.SOLVER_TOL
SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "CLARABEL": {"tol_gap_abs": _TOL, "tol_gap_rel": _TOL, "tol_feas": _TOL, "max_iter": 500},
    "OSQP": {"eps_abs": _TOL, "eps_rel": _TOL, "max_iter": 200000, "polishing": True, "polish_refine_iter": 50},
}


@functools.lru_cache(maxsize=1)
def _installed_solvers() -> frozenset[str]:
    return frozenset(cp.installed_solvers())  # slow (probes every solver): ask once per process


def check_solver(name: str) -> str:
    """Normalize a solver name and reject one we do not support (InputError)."""
    key = str(name).upper()
    if key not in SOLVERS:
        raise InputError(f"unknown block solver {name!r}; expected one of {', '.join(SOLVERS)}")
    if key not in _installed_solvers():
        raise InputError(f"solver {key} is not installed in this environment")
    return key


@dataclass(frozen=True, kw_only=True)
class BlockSolution:
    """One block solve: the minimizer W, L~ there (from theory.loss), the solver's status and name.

    duals: for the encoder block, the multipliers of the region rows G vec(W_E) <= h (else None).
    solver: the solver that answered; "X (fallback after ...)" when the first one did not end optimal.
    """

    W: np.ndarray
    value: float
    status: str
    solver: str
    duals: np.ndarray | None = field(default=None, repr=False)
    seconds: float = 0.0

    @property
    def optimal(self) -> bool:
        """Only the status "optimal" counts (optimal_inaccurate does not)."""
        return self.status == cp.OPTIMAL

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "status": self.status, "solver": self.solver, "seconds": self.seconds}


def decoder_closed_form(inst: Instance, W_E: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """argmin_{W_D} L~(W_D, W_E) (eq. 11 as least squares in W_D), the minimum-norm solution.

    With Q = A * (W_E W_p) the codes and D = diag(M): W_D^T = lstsq(D^(1/2) Q^T, D^(1/2) W_r^T).
    mask defaults to W_E's own pattern (then Q = sigma(W_E W_p)).
    """
    W_E = np.asarray(W_E, dtype=float)
    check_weights(inst, W_E=W_E)
    if mask is None:
        mask = passed_mask(inst, W_E)
    Q = np.where(mask, W_E @ inst.W_p, 0.0)
    s = np.sqrt(inst.M)[:, None]
    sol, *_ = np.linalg.lstsq(s * Q.T, s * inst.W_r.T, rcond=None)
    return sol.T


def _check_piece(piece: Piece) -> Piece:
    if not isinstance(piece, Piece):
        raise InputError("the block solvers take a sdlscape.theory.piece.Piece")
    piece.loss_mask  # noqa: B018  (raises for a piece that is a union of linear pieces)
    return piece


# If the first solve does not end "optimal", the same block is re-solved with the next settings;
# the solver field of the BlockSolution says which one answered. Any other status stays inconclusive.
# The first attempt lets CVXPY update the cached Clarabel object in place (fast re-solves); that
# occasionally fails on ill-scaled W_D, so the first fallback is the same solver built afresh.
FALLBACKS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "CLARABEL": [("CLARABEL", {**SOLVER_OPTIONS["CLARABEL"], "warm_start": False}),
                 ("CLARABEL", {"max_iter": 500, "warm_start": False}), ("OSQP", SOLVER_OPTIONS["OSQP"])],
    "OSQP": [("OSQP", {**SOLVER_OPTIONS["OSQP"], "warm_start": False}),
             ("CLARABEL", {**SOLVER_OPTIONS["CLARABEL"], "warm_start": False})],
}


def _solve_once(problem: cp.Problem, solver: str, opts: dict[str, Any]) -> str:
    try:
        with warnings.catch_warnings():  # an inaccurate solve is reported through its status
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=solver, **opts)
    except cp.error.SolverError as exc:
        return f"solver_error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return str(problem.status)


def _describe(name: str, opts: dict[str, Any]) -> str:
    return name + ("" if opts.get("warm_start", True) else " (fresh)") + \
        (" (default tolerances)" if name == "CLARABEL" and "tol_gap_abs" not in opts else "")


def _solve(problem: cp.Problem, solver: str, fallback: bool = True) -> tuple[str, str]:
    """Solve; returns (status, which solver/settings answered). Exceptions become statuses."""
    status = _solve_once(problem, solver, SOLVER_OPTIONS[solver])
    if status == cp.OPTIMAL or not fallback:
        return status, solver
    tried = [f"{solver}: {status}"]
    for name, opts in FALLBACKS[solver]:
        st = _solve_once(problem, name, opts)
        if st == cp.OPTIMAL:
            return st, f"{_describe(name, opts)} (fallback after {'; '.join(tried)})"
        tried.append(f"{_describe(name, opts)}: {st}")
    return status, f"{solver} (fallbacks: {'; '.join(tried[1:])})"


class DecoderBlock:
    """min over W_D of L~(W_D, W_E) for a fixed W_E in the piece (least squares), compiled once.

    Latents that the pattern leaves dead (F_i empty) have a zero code row, so their decoder column
    does not enter L~; it is fixed to 0 (the minimum-norm choice, as in decoder_closed_form).
    """

    def __init__(self, piece: Piece, solver: str = "CLARABEL", fallback: bool = True):
        self.piece = _check_piece(piece)
        inst = self.inst = piece.instance
        self.solver, self.fallback = check_solver(solver), fallback
        self.mask = piece.loss_mask
        self.live = piece.live_latents
        sqrtM = np.sqrt(inst.M)[None, :]
        self.problem = None
        if len(self.live):  # with every latent dead there is nothing to solve: W_D = 0
            self._Q = cp.Parameter((len(self.live), inst.n), name="Q_live")
            self._W = cp.Variable((inst.n_r, len(self.live)), name="W_D_live")
            resid = inst.W_r - self._W @ self._Q
            self.problem = cp.Problem(cp.Minimize(cp.sum_squares(cp.multiply(resid, sqrtM))))
            assert self.problem.is_dpp()

    def solve(self, W_E: np.ndarray) -> BlockSolution:
        W_E = np.asarray(W_E, dtype=float)
        check_weights(self.inst, W_E=W_E)
        W_D = np.zeros((self.inst.n_r, self.inst.n_latents))
        if self.problem is None:
            return BlockSolution(W=W_D, value=approx_loss(self.inst, W_D, W_E, self.mask), status=cp.OPTIMAL,
                                 solver="none (every latent dead)")
        Q = np.where(self.mask, W_E @ self.inst.W_p, 0.0)
        self._Q.value = Q[self.live]
        t0 = time.perf_counter()
        status, used = _solve(self.problem, self.solver, self.fallback)
        seconds = time.perf_counter() - t0
        if self._W.value is not None:
            W_D[:, self.live] = self._W.value
        ok = self._W.value is not None and status == cp.OPTIMAL
        value = approx_loss(self.inst, W_D, W_E, self.mask) if ok else float("nan")
        return BlockSolution(W=W_D, value=value, status=status, solver=used, seconds=seconds)


class EncoderBlock:
    """min over W_E in the closed region Omega_P (margin eps) of L~(W_D, W_E) for a fixed W_D (a QP).

    The variable is vec(W_E) (row-major, as in theory.activations), the constraints are exactly the
    region's rows G vec(W_E) <= h, so `BlockSolution.duals[r]` is the multiplier of region row r.
    """

    def __init__(self, piece: Piece, solver: str = "CLARABEL", fallback: bool = True):
        self.piece = _check_piece(piece)
        inst = self.inst = piece.instance
        self.solver, self.fallback = check_solver(solver), fallback
        self.mask = piece.loss_mask
        self.region: Region = piece.region
        nl, n_p = inst.n_latents, inst.n_p
        self._W_D = cp.Parameter((inst.n_r, nl), name="W_D")
        self._w = cp.Variable(nl * n_p, name="vec_W_E")
        W_E = cp.reshape(self._w, (nl, n_p), order="C")
        Q = cp.multiply(self.mask.astype(float), W_E @ inst.W_p)
        resid = inst.W_r - self._W_D @ Q
        objective = cp.Minimize(cp.sum_squares(cp.multiply(resid, np.sqrt(inst.M)[None, :])))
        self._cons = [self.region.G @ self._w <= self.region.h] if self.region.n_rows else []
        self.problem = cp.Problem(objective, self._cons)
        assert self.problem.is_dpp()

    def solve(self, W_D: np.ndarray) -> BlockSolution:
        W_D = np.asarray(W_D, dtype=float)
        check_weights(self.inst, W_D=W_D)
        self._W_D.value = W_D
        t0 = time.perf_counter()
        status, used = _solve(self.problem, self.solver, self.fallback)
        seconds = time.perf_counter() - t0
        if self._w.value is None or status != cp.OPTIMAL:
            nan = np.full(self.region.shape, np.nan)
            return BlockSolution(W=nan, value=float("nan"), status=status, solver=used, seconds=seconds)
        W_E = np.asarray(self._w.value, dtype=float).reshape(self.region.shape)
        duals = (np.asarray(self._cons[0].dual_value, dtype=float).reshape(-1) if self._cons
                 else np.zeros(0))
        return BlockSolution(W=W_E, value=approx_loss(self.inst, W_D, W_E, self.mask), status=status, solver=used,
                             duals=duals, seconds=seconds)


def encoder_problem_fresh(piece: Piece, W_D: np.ndarray, solver: str = "CLARABEL", fallback: bool = True,
                          drop_rows=()) -> BlockSolution:
    """The encoder block built from scratch with W_D as a constant (no Parameters): for benchmarks
    and as an independent cross-check of EncoderBlock. drop_rows: region rows left out (the block
    over a relaxed region; duals are then returned for the kept rows only, in order)."""
    _check_piece(piece)
    inst, solver = piece.instance, check_solver(solver)
    reg = piece.region.without(drop_rows) if len(drop_rows) else piece.region
    mask = piece.loss_mask
    t0 = time.perf_counter()
    w = cp.Variable(inst.n_latents * inst.n_p)
    W_E = cp.reshape(w, reg.shape, order="C")
    resid = inst.W_r - np.asarray(W_D, dtype=float) @ cp.multiply(mask.astype(float), W_E @ inst.W_p)
    cons = [reg.G @ w <= reg.h] if reg.n_rows else []
    prob = cp.Problem(cp.Minimize(cp.sum_squares(cp.multiply(resid, np.sqrt(inst.M)[None, :]))), cons)
    status, used = _solve(prob, solver, fallback)
    seconds = time.perf_counter() - t0
    if w.value is None or status != cp.OPTIMAL:
        return BlockSolution(W=np.full(reg.shape, np.nan), value=float("nan"), status=status, solver=used,
                             seconds=seconds)
    W = np.asarray(w.value).reshape(reg.shape)
    duals = np.asarray(cons[0].dual_value).reshape(-1) if cons else np.zeros(0)
    return BlockSolution(W=W, value=approx_loss(inst, W_D, W, mask), status=status, solver=used, duals=duals,
                         seconds=seconds)


def encoder_design(inst: Instance, mask: np.ndarray, W_D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For fixed W_D, L~ on the region = || b - A vec(W_E) ||^2 (eq. 11 with sigma = the mask): (A, b)."""
    nl, n_p = mask.shape[0], inst.n_p
    sqrtM = np.sqrt(inst.M)
    A = np.zeros((inst.n * inst.n_r, nl * n_p))
    for d in range(inst.n):
        rows = slice(d * inst.n_r, (d + 1) * inst.n_r)
        for i in np.flatnonzero(mask[:, d]):
            A[rows, i * n_p:(i + 1) * n_p] = sqrtM[d] * np.outer(W_D[:, i], inst.W_p[:, d])
    b = (inst.W_r * sqrtM[None, :]).T.reshape(-1)
    return A, b


def encoder_active_set(piece: Piece, W_D: np.ndarray, W_E: np.ndarray, active: tuple[int, ...] = ()
                       ) -> BlockSolution | None:
    """The encoder block solved exactly by guessing its active set: minimize ||b - A w||^2 subject to
    G_S w = h_S (S = `active`, empty: unconstrained least squares) from the KKT system, taking the
    minimum-norm step from the current W_E (so directions that do not enter L~ keep their values).
    The answer is returned only if it is a KKT point of the whole block: G w <= h on every row and
    multipliers >= 0 (sufficient for this convex QP); otherwise None (the caller then runs CVXPY)."""
    inst, reg, mask = piece.instance, piece.region, piece.loss_mask
    A, b = encoder_design(inst, mask, W_D)
    w0 = W_E.reshape(-1)
    S = list(active)
    dim = w0.size
    if S:
        Gs = reg.G[S]
        K = np.block([[2.0 * A.T @ A, Gs.T], [Gs, np.zeros((len(S), len(S)))]])
        rhs = np.concatenate([2.0 * A.T @ (b - A @ w0), reg.h[S] - Gs @ w0])
        sol, *_ = np.linalg.lstsq(K, rhs, rcond=None)
        if np.abs(K @ sol - rhs).max() > numerics.KKT_RESIDUAL_REL * max(1.0, np.abs(rhs).max()):
            return None
        step, lam_S = sol[:dim], sol[dim:]
    else:
        step, *_ = np.linalg.lstsq(A, b - A @ w0, rcond=None)
        lam_S = np.zeros(0)
    w = w0 + step
    lam = np.zeros(reg.n_rows)
    lam[S] = lam_S
    slack = reg.h - reg.G @ w
    feas = 1e-12 * max(1.0, float(np.abs(w).max()))
    if np.any(slack < -feas) or (lam_S.size and lam_S.min() < -1e-10 * max(1.0, float(np.abs(lam_S).max()))):
        return None
    lam = np.maximum(lam, 0.0)
    W = w.reshape(W_E.shape)
    return BlockSolution(W=W, value=approx_loss(inst, W_D, W, mask), status=cp.OPTIMAL,
                         solver="active-set KKT" if S else "least squares", duals=lam)
