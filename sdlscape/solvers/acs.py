"""Alternating convex search (ACS) inside one activation-pattern piece, and its certified outcome.

Inside Omega_P (eq. 13) L~ (eq. 11) is biconvex (Thm 3.2). ACS alternates the exact decoder block
(least squares) and the exact encoder block (a QP over the margin-tightened closed region), so L~
never increases. The outcome is exactly one of
  partial_optimum  both blocks optimal at the final point (re-solved with CVXPY: the two gaps are
                   the certificate) and no region row pressed: every active row has a zero
                   multiplier, or dropping the rows that carry one lowers the encoder block by no
                   more than the gap tolerance; the joint Hessian inside the region classifies it
                   (local_min / saddle / undecided, classify_point);
  leaves_region    the iterates press on region rows with positive multipliers, and dropping those
                   rows would lower the encoder block by more than the gap tolerance: a feature wants
                   to stop (or start) activating a latent; `toward` is that neighbouring pattern. Either
                   ACS converged onto the boundary, or (relu-type cones, where the margin eps is the
                   only thing that stops it) it kept pressing some same row for the last
                   `press_window` iterations of its budget;
  inconclusive     a solver status other than optimal, a loss increase beyond round-off, or no
                   convergence (and no persistent pressing) within the iteration budget.
Partial optimality is decided by solving the blocks, never from a gradient formula of the paper.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog

from sdlscape.errors import InputError
from sdlscape.solvers.blocks import (BlockSolution, DecoderBlock, EncoderBlock, check_solver,
                                     decoder_closed_form, encoder_problem_fresh)
from sdlscape.theory.activations import DEFAULT_EPS, Region, check_selection_counts
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_grad, approx_loss, check_weights
from sdlscape.theory.patterns import Pattern, Realizability, realize, region

OUTCOMES = ("partial_optimum", "leaves_region", "inconclusive")
PRESS_KIND = {"on": "stop", "off": "start", "order": "order"}


@dataclass
class ACSResult:
    """What one ACS run reached; see the module docstring for the three outcomes."""

    outcome: str
    loss: float | None
    W_E: np.ndarray | None
    W_D: np.ndarray | None
    iterations: int
    certificate: dict = field(default_factory=dict)
    hessian: dict | None = None
    pressing: list[dict] = field(default_factory=list)
    toward: Pattern | None = None
    reason: str = ""
    tolerances: dict = field(default_factory=dict)
    history: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "loss": self.loss,
                "W_E": None if self.W_E is None else self.W_E.tolist(),
                "W_D": None if self.W_D is None else self.W_D.tolist(),
                "iterations": self.iterations, "certificate": self.certificate, "hessian": self.hessian,
                "pressing": self.pressing, "toward": None if self.toward is None else self.toward.to_json(),
                "reason": self.reason, "tolerances": self.tolerances, "loss_history": self.history}


# ----------------------------------------------------------------------------------------------
# starts

def random_region_point(reg: Region, witness: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random point of the region (margin eps kept on every row): the witness moved part of the
    way toward the vertex of {G w <= h - eps, |w|_inf <= B} that maximizes a random objective."""
    w0 = np.asarray(witness, dtype=float).reshape(-1)
    B = 2.0 * max(1.0, float(np.abs(w0).max()))
    c = rng.standard_normal(w0.size)
    res = linprog(-c, A_ub=reg.G if reg.n_rows else None, b_ub=(reg.h - reg.eps) if reg.n_rows else None,
                  bounds=(-B, B), method="highs")
    if res.status != 0:  # fall back to the witness itself (it is in the region)
        return w0.reshape(reg.shape)
    t = rng.uniform(0.2, 0.8)
    return ((1.0 - t) * w0 + t * res.x).reshape(reg.shape)


def scaled_witness(inst: Instance, reg: Region, witness: np.ndarray) -> np.ndarray:
    """The LP witness (least L1 norm, so of the size of the margin eps) scaled up to unit largest row
    when the region is a cone tightened by eps (positively homogeneous activation): scaling by
    c >= 1 keeps every row G w <= h (h <= 0 there), so the start stays in the region, away from
    the margin's scale. jumprelu regions are not cones: the witness is kept as it is."""
    W = np.asarray(witness, dtype=float)
    top = float(np.linalg.norm(W, axis=1).max())
    if not inst.activation.positively_homogeneous or top <= 0 or top >= 1 or np.any(reg.h > 0):
        return W
    W1 = W / top
    return W1 if reg.contains(W1, tol=0.0) else W


# ----------------------------------------------------------------------------------------------
# the joint Hessian inside the region

def joint_hessian(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray, h: float = 1e-2) -> np.ndarray:
    """Hessian of the region's quadratic L~ in x = (vec W_D, vec W_E) (both row-major).

    Built from theory.loss.approx_grad with the five-point stencil, which is exact (up to round-off)
    here: along any line the gradient of the quartic L~ is a cubic polynomial.
    """
    nD, nE = W_D.size, W_E.size
    x0 = np.concatenate([W_D.reshape(-1), W_E.reshape(-1)])

    def grad(x):
        gD, gE = approx_grad(inst, x[:nD].reshape(W_D.shape), x[nD:].reshape(W_E.shape), mask)
        return np.concatenate([gD.reshape(-1), gE.reshape(-1)])

    H = np.empty((nD + nE, nD + nE))
    for k in range(nD + nE):
        e = np.zeros(nD + nE)
        e[k] = h
        H[:, k] = (grad(x0 - 2 * e) - 8 * grad(x0 - e) + 8 * grad(x0 + e) - grad(x0 + 2 * e)) / (12 * h)
    return 0.5 * (H + H.T)


def invariant_directions(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Directions along which the region's L~ is exactly constant (columns, in x = (vec W_D, vec W_E)).

    kernel: dW_E with mask * (dW_E W_p) = 0 (L~ depends on W_E only through the masked codes);
    dead: decoder columns of latents the pattern leaves dead (their code row is 0);
    rescale: w_E^i -> c w_E^i, w_D^i -> w_D^i / c (tangent (-w_D^i, w_E^i)); an exact symmetry of
    the region's quadratic, whose gradient vanishes along the orbit at a stationary point.
    """
    nl, n_p, n_r = inst.n_latents, inst.n_p, inst.n_r
    nD, nE = n_r * nl, nl * n_p
    # masked codes z_{id} = <w_E^i, w_p^d>, (i, d) in mask: a linear map T of vec(W_E)
    rows = []
    for i, d in zip(*np.nonzero(mask)):
        r = np.zeros(nE)
        r[i * n_p:(i + 1) * n_p] = inst.W_p[:, d]
        rows.append(r)
    T = np.array(rows).reshape(-1, nE)
    K = null_space(T) if T.shape[0] else np.eye(nE)
    kernel = np.vstack([np.zeros((nD, K.shape[1])), K])
    dead = []
    for i in np.flatnonzero(~mask.any(axis=1)):
        for r in range(n_r):
            v = np.zeros(nD + nE)
            v[r * nl + i] = 1.0
            dead.append(v)
    rescale = []
    for i in np.flatnonzero(mask.any(axis=1)):
        v = np.zeros(nD + nE)
        dD = np.zeros((n_r, nl))
        dD[:, i] = -W_D[:, i]
        dE = np.zeros((nl, n_p))
        dE[i] = W_E[i]
        v[:nD], v[nD:] = dD.reshape(-1), dE.reshape(-1)
        if np.linalg.norm(v) > 0:
            rescale.append(v / np.linalg.norm(v))
    as_cols = lambda vs: np.array(vs).T if vs else np.zeros((nD + nE, 0))  # noqa: E731
    return {"kernel": kernel, "dead": as_cols(dead), "rescale": as_cols(rescale)}


def reconstruction_jacobian(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Jacobian of Phi(x) = vec(diag-weighted reconstructions W_D (A * (W_E W_p)) M^(1/2)) in x = (vec W_D, vec W_E).

    L~ = || vec(W_r M^(1/2)) - Phi(x) ||^2 depends on x only through Phi. Phi is bilinear, so central
    differences are exact (up to round-off).
    """
    nD = W_D.size
    x0 = np.concatenate([W_D.reshape(-1), W_E.reshape(-1)])
    sq = np.sqrt(inst.M)[None, :]

    def phi(x):
        WD, WE = x[:nD].reshape(W_D.shape), x[nD:].reshape(W_E.shape)
        return (WD @ np.where(mask, WE @ inst.W_p, 0.0) * sq).reshape(-1)

    J = np.empty((inst.n_r * inst.n, x0.size))
    for k in range(x0.size):
        e = np.zeros(x0.size)
        e[k] = 1.0
        J[:, k] = (phi(x0 + e) - phi(x0 - e)) / 2.0
    return J


def _rank(A: np.ndarray, rel: float = 1e-9) -> int:
    s = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(s > rel * max(1.0, s.max()))) if s.size else 0


def classify_point(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, reg: Region, mask: np.ndarray,
                   touching_boundary: list[int], rel_tol: float = 1e-7, seed: int = 0) -> dict[str, Any]:
    """Joint second-order classification of a stationary point of the region's quadratic.

    L~ depends on x = (W_D, W_E) only through the reconstructions Phi(x) (reconstruction_jacobian).
    Where J = dPhi/dx has locally constant rank (checked: the rank at the point equals the rank at
    random nearby points, and rank can only rise nearby), the fibres of Phi are manifolds on which
    L~ is constant, so ker J is an exact null space of the Hessian at a stationary point: it holds
    the rescaling symmetry, dead latents and the encoder kernel (invariant_directions) and any other
    over-parametrization. ker J is projected out (else only the explicit invariances are) and the
    remaining eigenvalues decide: all > tol: local_min (Morse-Bott: a local minimum of L~ jointly,
    non-isolated only along the fibres); one < -tol: saddle; otherwise undecided (a zero curvature
    that is not a fibre direction: higher-order terms decide). On a non-strict boundary row of the
    region (the point touches a neighbouring piece) a positive-definite answer is reported as
    undecided for L~ jointly.
    """
    H = joint_hessian(inst, W_D, W_E, mask)
    inv = invariant_directions(inst, W_D, W_E, mask)
    N_explicit = np.hstack(list(inv.values()))
    J = reconstruction_jacobian(inst, W_D, W_E, mask)
    rank_here = _rank(J)
    rng = np.random.default_rng(seed)
    size = 1e-3 * max(1.0, float(np.abs(W_D).max()), float(np.abs(W_E).max()))
    rank_near = max(_rank(reconstruction_jacobian(inst, W_D + size * rng.standard_normal(W_D.shape),
                                                  W_E + size * rng.standard_normal(W_E.shape), mask))
                    for _ in range(3))
    constant_rank = rank_here == rank_near
    if constant_rank:
        N = null_space(J, rcond=1e-9)
    else:
        N = N_explicit
    scale = max(1.0, float(np.abs(H).max()))
    residual = float(np.abs(H @ N).max()) if N.size else 0.0
    if N.size:
        U, s, _ = np.linalg.svd(N, full_matrices=True)
        rank = int(np.sum(s > 1e-10 * max(1.0, s.max())))
        B = U[:, rank:]
    else:
        rank, B = 0, np.eye(H.shape[0])
    Hr = B.T @ H @ B
    eig, vec = np.linalg.eigh(Hr) if Hr.size else (np.zeros(0), np.zeros((0, 0)))
    tol = rel_tol * scale
    full_eig = np.linalg.eigvalsh(H)
    out: dict[str, Any] = {
        "eigenvalues": eig.tolist(), "full_eigenvalues": full_eig.tolist(), "tolerance": tol,
        "invariances": {k: int(v.shape[1]) for k, v in inv.items()},
        "jacobian_rank": rank_here, "jacobian_rank_nearby": rank_near, "constant_rank": constant_rank,
        "projected_out": rank, "projected": "ker J (fibres of the reconstruction map)" if constant_rank
        else "explicit invariances only (the rank of J is not locally constant)",
        "explicit_in_kernel": float(np.abs(J @ N_explicit).max()) if N_explicit.size else 0.0,
        "invariance_residual": residual, "method": "five-point stencil of theory.loss.approx_grad (exact)"}
    nD = W_D.size
    L = approx_loss(inst, W_D, W_E, mask)
    if L <= 1e-12:
        out["classification"] = "local_min"
        out["why"] = f"L~ = {L:.3g}: zero loss is the global minimum (L~ >= 0)"
        return out
    if residual > 1e-6 * scale:
        out["classification"] = "undecided"
        out["why"] = "the projected directions are not in the Hessian's null space (not a stationary point)"
        return out
    if eig.size and eig[0] < -tol:
        out["classification"] = "saddle"
        out["why"] = f"negative curvature {eig[0]:.3g} along a direction that is not an invariance"
        if touching_boundary:
            v = (B @ vec[:, 0])[nD:]
            Gt = reg.G[touching_boundary]
            if not (np.all(Gt @ v <= 1e-12) or np.all(Gt @ v >= -1e-12)):
                out["classification"] = "undecided"
                out["why"] += ", but it crosses a boundary row the point touches"
        return out
    if eig.size and eig[0] <= tol:
        out["classification"] = "undecided"
        out["why"] = (f"{int(np.sum(np.abs(eig) <= tol))} zero eigenvalue(s) beyond the projected directions "
                      f"({out['projected']}): higher-order terms decide")
        return out
    if touching_boundary:
        out["classification"] = "undecided"
        out["why"] = (f"positive definite in the region, but the point lies on {len(touching_boundary)} "
                      "non-strict boundary row(s): neighbouring pieces decide")
        return out
    out["classification"] = "local_min"
    out["why"] = f"positive definite after projecting out {out['projected']}; strictly inside the region"
    return out


# ----------------------------------------------------------------------------------------------
# ACS

def _toward(pattern: Pattern, pressing: list[dict]) -> Pattern:
    """The neighbouring pattern across the pressed rows (all of them; else the strongest one)."""
    def apply(entries):
        sets = [set(s) for s in pattern.sets]
        for p in entries:
            i, d = p["latent"], p["feature"]
            if p["kind"] == "stop":
                sets[i].discard(d)
            elif p["kind"] == "start":
                sets[i].add(d)
            else:  # latent `other` overtakes latent i for feature d
                sets[i].discard(d)
                sets[p["other"]].add(d)
        return Pattern(tuple(frozenset(s) for s in sets), pattern.n)

    return apply(pressing)


def _valid_for(act, pat: Pattern) -> bool:
    try:
        check_selection_counts(act, pat.mask)
        return True
    except InputError:
        return False


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


def encoder_active_set(inst: Instance, mask: np.ndarray, reg: Region, W_D: np.ndarray, W_E: np.ndarray,
                       active: tuple[int, ...] = ()) -> BlockSolution | None:
    """The encoder block solved exactly by guessing its active set: minimize ||b - A w||^2 subject to
    G_S w = h_S (S = `active`, empty: unconstrained least squares) from the KKT system, taking the
    minimum-norm step from the current W_E (so directions that do not enter L~ keep their values).
    The answer is returned only if it is a KKT point of the whole block: G w <= h on every row and
    multipliers >= 0 (sufficient for this convex QP); otherwise None (the caller then runs CVXPY)."""
    A, b = encoder_design(inst, mask, W_D)
    w0 = W_E.reshape(-1)
    S = list(active)
    dim = w0.size
    if S:
        Gs = reg.G[S]
        K = np.block([[2.0 * A.T @ A, Gs.T], [Gs, np.zeros((len(S), len(S)))]])
        rhs = np.concatenate([2.0 * A.T @ (b - A @ w0), reg.h[S] - Gs @ w0])
        sol, *_ = np.linalg.lstsq(K, rhs, rcond=None)
        if np.abs(K @ sol - rhs).max() > 1e-9 * max(1.0, np.abs(rhs).max()):
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
    return BlockSolution(W, approx_loss(inst, W_D, W, mask), "optimal",
                         "active-set KKT" if S else "least squares", lam)


def run_acs(inst: Instance, pattern: Pattern, W_E0: np.ndarray | None = None, *, seed: int = 0,
            eps: float = DEFAULT_EPS, tol: float = 1e-9, max_iter: int = 500, solver: str = "CLARABEL",
            xtol: float = 1e-7, patience: int = 10, press_window: int | None = None, fast_path: bool = True,
            classify: bool = True, _blocks: tuple | None = None) -> ACSResult:
    """ACS inside the piece of `pattern`, from W_E0 (default: a random region point for this seed).

    Each iteration: W_E <- encoder block(W_D) (the CVXPY QP; with fast_path, first the exact solution
    for the previous iteration's pressed rows, then the unconstrained least squares, each kept only
    when it is a verified KKT point of the block (encoder_active_set)),
    then W_D <- decoder block(W_E) (closed-form least squares). Stops when the relative change of
    L~ is <= tol and that of the codes A*(W_E W_p) and W_D is <= xtol (or L~ stalls at round-off
    level for `patience` iterations). A converged point where region rows press (active, positive
    multipliers) leaves the region; without convergence, so does a run whose last `press_window`
    iterations (default max(patience, max_iter // 2)) all pressed the same rows; any other unconverged run is
    inconclusive. The final point is certified by re-solving both blocks with CVXPY.
    """
    solver = check_solver(solver)
    if int(max_iter) != max_iter or max_iter < 1:
        raise InputError(f"max_iter must be a positive integer, got {max_iter!r}")
    dec, enc = _blocks if _blocks is not None else (DecoderBlock(inst, pattern, solver),
                                                    EncoderBlock(inst, pattern, eps, solver))
    reg, mask = enc.region, pattern.mask
    tols = {"eps": eps, "tol": tol, "xtol": xtol, "patience": patience, "solver": solver,
            "max_iter": int(max_iter), "fast_path": fast_path}
    if W_E0 is None:
        rz = realize(inst, pattern, eps)
        if not rz.realizable:
            return ACSResult("inconclusive", None, None, None, 0, {"realizability": rz.status}, None, [], None,
                             f"pattern is not realizable with margin eps = {eps:g} ({rz.status})", tols)
        W_E0 = random_region_point(reg, scaled_witness(inst, reg, rz.witness), np.random.default_rng(seed))
    W_E = np.asarray(W_E0, dtype=float)
    check_weights(inst, W_E=W_E)
    if not reg.contains(W_E, tol=1e-8 * max(1.0, float(np.abs(W_E).max()))):
        raise InputError(f"the start W_E is not in the region of pattern {pattern} (margin eps = {eps:g}); "
                         f"worst slack {reg.slack(W_E).min():.3g}")

    W_D = decoder_closed_form(inst, W_E, mask)
    L = approx_loss(inst, W_D, W_E, mask)
    history = [L]
    Q = np.where(mask, W_E @ inst.W_p, 0.0)
    mono_tol = lambda v: 1e-9 * max(1.0, abs(v))  # noqa: E731  round-off allowance on a decrease
    max_increase, stop, it, stall, qp_solves = 0.0, None, 0, 0, 0
    press_key, press_run, last_enc, active_guess = set(), 0, None, ()
    for it in range(1, max_iter + 1):
        e, W_D_enc = None, W_D
        if fast_path:  # exact when it answers (a verified KKT point); else CVXPY below
            for S in dict.fromkeys([active_guess, ()]):
                e = encoder_active_set(inst, mask, reg, W_D, W_E, S)
                if e is not None:
                    break
        if e is None:
            e = enc.solve(W_D)
            qp_solves += 1
        if not e.optimal:
            return _stop("inconclusive", f"encoder block status {e.status!r} at iteration {it}", W_D, W_E, it,
                         history, tols, {"encoder_status": e.status})
        if e.value > L + mono_tol(L):
            return _stop("inconclusive", f"encoder block increased L~ by {e.value - L:.3g} (solver inaccuracy)",
                         W_D, W_E, it, history, tols, {"max_increase": e.value - L})
        max_increase = max(max_increase, e.value - L)
        last_enc = e
        pressing = _pressing(reg, e, e.W, e.value)
        active_guess = tuple(sorted(p["row"] for p in pressing))
        key = {p["row"] for p in pressing}
        press_run = press_run + 1 if (key & press_key) else (1 if key else 0)  # keeps pressing some same row
        press_key = key
        W_E_new = e.W
        W_D_new = decoder_closed_form(inst, W_E_new, mask)
        L_new = approx_loss(inst, W_D_new, W_E_new, mask)
        if L_new > e.value + mono_tol(e.value):  # least squares cannot increase L~: a numerical failure
            return _stop("inconclusive", f"decoder step increased L~ by {L_new - e.value:.3g}", W_D, W_E, it,
                         history, tols, {"max_increase": L_new - e.value})
        max_increase = max(max_increase, L_new - e.value)
        Q_new = np.where(mask, W_E_new @ inst.W_p, 0.0)
        dx = (np.linalg.norm(Q_new - Q) / (1.0 + np.linalg.norm(Q))
              + np.linalg.norm(W_D_new - W_D) / (1.0 + np.linalg.norm(W_D)))
        dL = L - L_new
        stall = stall + 1 if dL <= 1e-3 * tol * max(1.0, L) else 0
        # the final point is (W_D, W_E_new): W_E_new is the encoder block's answer to W_D
        if dL <= tol * max(1.0, L) and (dx <= xtol or stall >= patience):
            W_E, L, stop = W_E_new, e.value, ("converged" if dx <= xtol else "loss stalled")
            history.append(L)
            break
        W_E, W_D, Q, L = W_E_new, W_D_new, Q_new, L_new
        history.append(L)

    tols["monotone"] = bool(max_increase <= 0.0)
    tols["max_increase"] = float(max_increase)
    tols["qp_solves"] = qp_solves
    window = max(patience, int(max_iter) // 2) if press_window is None else max(1, int(press_window))
    tols["press_window"] = window
    tols["pressed_iterations"] = press_run
    tols["stopped_by"] = stop or f"iteration budget ({max_iter})"
    if stop is None:
        last = float(history[-2] - history[-1]) if len(history) > 1 else None
        if press_run < window or last_enc is None:
            res = _stop("inconclusive", f"no convergence within {max_iter} iterations", W_D, W_E, it, history,
                        tols, {"last_change": last, "pressed_iterations": press_run})
            res.pressing = _pressing(reg, last_enc, W_E, L) if last_enc is not None else []
            return res
        # not converged, but the same rows pressed through the last `window` iterations: leaving
        W_E, W_D, L = last_enc.W, W_D_enc, last_enc.value
    return _certify(inst, pattern, dec, enc, W_D, W_E, it, history, tols, classify)


def _stop(outcome, reason, W_D, W_E, it, history, tols, cert) -> ACSResult:
    loss = float(history[-1]) if history else None
    return ACSResult(outcome, loss, W_E, W_D, it, cert, None, [], None, reason, tols, [float(v) for v in history])


def _pressing(reg: Region, e, W_E: np.ndarray, L: float) -> list[dict]:
    """Region rows active at W_E with a positive multiplier in the encoder block's solution."""
    if e is None or e.duals is None or not e.duals.size:
        return []
    slack = reg.slack(W_E)
    act_tol = 1e-7 * max(1.0, float(np.abs(W_E).max()))
    dual_tol = 1e-7 * max(1.0, L)
    out = []
    for r in np.flatnonzero((slack <= act_tol) & (e.duals > dual_tol)):
        c = reg.constraints[r]
        entry = {"row": int(r), "latent": c.latent, "feature": c.feature, "kind": PRESS_KIND[c.kind],
                 "multiplier": float(e.duals[r]), "slack": float(slack[r]), "strict": bool(reg.strict[r]),
                 "describe": c.describe()}
        if c.kind == "order":
            entry["other"] = c.other
        out.append(entry)
    return sorted(out, key=lambda p: -p["multiplier"])


def _certify(inst, pattern, dec, enc, W_D, W_E, it, history, tols, classify) -> ACSResult:
    """Re-solve both blocks at the final point (W_D, W_E) with CVXPY and decide the outcome."""
    mask, reg = pattern.mask, enc.region
    L = approx_loss(inst, W_D, W_E, mask)
    d_cvx = dec.solve(W_E)
    W_D_cf = decoder_closed_form(inst, W_E, mask)
    L_cf = approx_loss(inst, W_D_cf, W_E, mask)
    e_fresh = encoder_problem_fresh(inst, pattern, W_D, enc.eps, enc.solver)
    gap_tol = 1e-8 * max(1.0, L)
    slack = reg.slack(W_E)
    act_tol = 1e-7 * max(1.0, float(np.abs(W_E).max()))
    touching = np.flatnonzero(slack <= act_tol)
    cert = {"loss": L, "decoder_gap": L - min(d_cvx.value, L_cf), "decoder_gap_cvxpy": L - d_cvx.value,
            "decoder_gap_closed_form": L - L_cf, "decoder_status": d_cvx.status,
            "decoder_solver": d_cvx.solver, "encoder_solver": e_fresh.solver,
            "encoder_gap": L - e_fresh.value, "encoder_status": e_fresh.status, "gap_tolerance": gap_tol,
            "min_slack": float(slack.min()) if slack.size else None,
            "max_multiplier": (float(e_fresh.duals.max()) if e_fresh.duals is not None and e_fresh.duals.size
                               else 0.0),
            "active_rows": [int(r) for r in touching], "activity_tolerance": act_tol,
            "multiplier_tolerance": 1e-7 * max(1.0, L), "in_region": bool(reg.contains(W_E, tol=act_tol))}
    res = ACSResult("inconclusive", L, W_E, W_D, it, cert, None, [], None, "", tols, [float(v) for v in history])
    if not (d_cvx.optimal and e_fresh.optimal):
        res.reason = f"certificate re-solve status: decoder {d_cvx.status!r}, encoder {e_fresh.status!r}"
        return res
    if not cert["in_region"]:
        res.reason = f"final W_E violates the region by {-slack.min():.3g}"
        return res
    # multipliers of the fresh re-solve (for a convex QP any dual optimum pairs with any primal one)
    res.pressing = _pressing(reg, e_fresh, W_E, L)
    if res.pressing:
        # does the boundary matter? the block with the pressed rows dropped (the region's quadratic
        # continued across them) goes lower by `relaxed_gap`; within the gap tolerance it does not
        rows = [p["row"] for p in res.pressing]
        relaxed = encoder_problem_fresh(inst, pattern, W_D, enc.eps, enc.solver, drop_rows=rows)
        cert["relaxed_gap"] = L - relaxed.value if relaxed.optimal else None
        cert["relaxed_status"] = relaxed.status
        if not relaxed.optimal:
            res.reason = f"relaxed encoder block status {relaxed.status!r}"
            return res
        if cert["relaxed_gap"] <= gap_tol:
            cert["immaterial_pressing"] = res.pressing
            res.pressing = []
    if res.pressing:
        toward = _toward(pattern, res.pressing)
        if not _valid_for(inst.activation, toward):
            toward = _toward(pattern, res.pressing[:1])
        res.outcome, res.toward = "leaves_region", toward
        p = res.pressing[0]
        res.reason = (f"ACS ({tols.get('stopped_by')}) presses on region row {p['row']} ({p['describe']}) with "
                      f"multiplier {p['multiplier']:.3g} (crossing would lower the block by "
                      f"{cert['relaxed_gap']:.3g}): a {p['kind']} move toward pattern {toward}")
        return res
    if max(cert["decoder_gap"], cert["encoder_gap"]) > gap_tol:
        res.reason = (f"block gaps {cert['decoder_gap']:.3g}, {cert['encoder_gap']:.3g} exceed {gap_tol:.3g} "
                      "after convergence")
        return res
    res.outcome = "partial_optimum"
    res.reason = (f"both blocks optimal (gaps {cert['decoder_gap']:.2g}, {cert['encoder_gap']:.2g}), "
                  + ("no region row pressed" if not cert.get("immaterial_pressing") else
                     f"rows {[p['row'] for p in cert['immaterial_pressing']]} touched with multipliers that "
                     f"lower the block by only {cert['relaxed_gap']:.2g} if dropped"))
    if classify:
        boundary = [int(r) for r in touching if not reg.strict[r]]
        res.hessian = classify_point(inst, W_D, W_E, reg, mask, boundary)
    return res


# ----------------------------------------------------------------------------------------------
# one piece, several starts

@dataclass
class PieceResult:
    """ACS from several starts in one piece: the best outcome any start reached."""

    pattern: Pattern
    realizable: bool
    realizability: Realizability
    outcome: str
    best_loss: float | None
    starts: list[ACSResult]
    eps: float = DEFAULT_EPS
    seed: int = 0

    @property
    def best(self) -> ACSResult | None:
        cands = [s for s in self.starts if s.outcome == self.outcome and s.loss is not None]
        return min(cands, key=lambda s: s.loss) if cands else None

    def to_dict(self) -> dict[str, Any]:
        """The "piece" result-file contract of ARCHITECTURE.md, plus evidence."""
        return {"pattern": self.pattern.to_json(), "realizable": self.realizable, "outcome": self.outcome,
                "best_loss": self.best_loss, "eps": self.eps, "seed": self.seed,
                "realizability": self.realizability.to_dict(), "starts": [s.to_dict() for s in self.starts]}


def solve_piece(inst: Instance, pattern: Pattern, starts: int = 4, seed: int = 0, eps: float = DEFAULT_EPS,
                **acs_kwargs) -> PieceResult:
    """Realizability (LP), then ACS from `starts` points of the region: the LP witness, then random
    region points (seeded). outcome: partial_optimum if any start certified one, else leaves_region if
    any start left, else inconclusive; best_loss is the least loss among starts with that outcome."""
    if int(starts) != starts or starts < 1:
        raise InputError(f"starts must be a positive integer, got {starts!r}")
    solver = check_solver(acs_kwargs.pop("solver", "CLARABEL"))
    rz = realize(inst, pattern, eps)
    if not rz.realizable:
        return PieceResult(pattern, False, rz, "inconclusive", None, [], eps, seed)
    reg = region(inst, pattern, eps)
    blocks = (DecoderBlock(inst, pattern, solver), EncoderBlock(inst, pattern, eps, solver))
    rng = np.random.default_rng(seed)
    witness = scaled_witness(inst, reg, rz.witness)
    results = []
    for k in range(int(starts)):
        W0 = witness if k == 0 else random_region_point(reg, witness, rng)
        results.append(run_acs(inst, pattern, W0, seed=seed, eps=eps, solver=solver, _blocks=blocks, **acs_kwargs))
    outcome = next((o for o in OUTCOMES if any(s.outcome == o for s in results)), "inconclusive")
    losses = [s.loss for s in results if s.outcome == outcome and s.loss is not None and math.isfinite(s.loss)]
    return PieceResult(pattern, True, rz, outcome, min(losses) if losses else None, results, eps, seed)
