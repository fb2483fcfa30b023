"""Alternating convex search (ACS) inside one activation-pattern piece, and its certified outcome.

Inside Omega_P (eq. 13) L~ (eq. 11) is biconvex (Thm 3.2). ACS alternates the exact decoder block
(least squares) and the exact encoder block (a QP over the margin-tightened closed region), so L~
never increases. The outcome is exactly one of
  partial_optimum  both blocks optimal at the final point (re-solved: the gaps are the certificate)
                   and no region constraint pressed (zero multipliers on every active row);
                   the joint Hessian inside the region classifies it (local_min / saddle / undecided);
  leaves_region    the converged iterates press on a region row with a positive multiplier: a
                   feature wants to stop (or start) activating a latent; `toward` is that pattern;
  inconclusive     a solver status other than optimal, a loss increase beyond round-off, a start
                   outside the region, or no convergence within the iteration budget.
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


def classify_point(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, reg: Region, mask: np.ndarray,
                   touching_boundary: list[int], rel_tol: float = 1e-7) -> dict[str, Any]:
    """Joint second-order classification of a stationary point of the region's quadratic.

    The exact invariances (invariant_directions) are projected out; the remaining eigenvalues decide:
    all > tol: local_min (a local minimum of L~ jointly, non-isolated only along the invariances);
    one < -tol: saddle; otherwise undecided (a zero curvature not explained by an invariance, where
    higher-order terms decide). On a non-strict boundary row of the region (the point touches the
    neighbouring piece) a positive-definite answer is reported as undecided for L~ jointly.
    """
    H = joint_hessian(inst, W_D, W_E, mask)
    inv = invariant_directions(inst, W_D, W_E, mask)
    N = np.hstack(list(inv.values()))
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
        "projected_out": {k: int(v.shape[1]) for k, v in inv.items()}, "projected_rank": rank,
        "invariance_residual": residual, "method": "five-point stencil of theory.loss.approx_grad (exact)"}
    nD = W_D.size
    L = approx_loss(inst, W_D, W_E, mask)
    if L <= 1e-12:
        out["classification"] = "local_min"
        out["why"] = f"L~ = {L:.3g}: zero loss is the global minimum (L~ >= 0)"
        return out
    if residual > 1e-6 * scale:
        out["classification"] = "undecided"
        out["why"] = "the invariant directions are not in the Hessian's null space (not a stationary point)"
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
        out["why"] = (f"{int(np.sum(np.abs(eig) <= tol))} zero eigenvalue(s) beyond the invariances "
                      "(rescaling, dead latents, encoder kernel): higher-order terms decide")
        return out
    if touching_boundary:
        out["classification"] = "undecided"
        out["why"] = (f"positive definite in the region, but the point lies on {len(touching_boundary)} "
                      "non-strict boundary row(s): neighbouring pieces decide")
        return out
    out["classification"] = "local_min"
    out["why"] = "positive definite after projecting out the exact invariances; strictly inside the region"
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


def encoder_unconstrained(inst: Instance, mask: np.ndarray, W_D: np.ndarray, W_E: np.ndarray) -> np.ndarray:
    """The least-squares minimizer of the region's quadratic over all W_E (no constraints) nearest W_E.

    L~ is || b - A vec(W_E) ||^2 for fixed W_D; the step is the minimum-norm least-squares correction,
    so directions that do not enter L~ (dead rows, the encoder kernel) keep their current values.
    If the result lies in the region it is also the encoder block's minimizer (a convex problem).
    """
    nl, n_p = W_E.shape
    sqrtM = np.sqrt(inst.M)
    A_rows, b = [], []
    for d in range(inst.n):
        blk = np.zeros((inst.n_r, nl * n_p))
        for i in np.flatnonzero(mask[:, d]):
            blk[:, i * n_p:(i + 1) * n_p] = np.outer(W_D[:, i], inst.W_p[:, d])
        A_rows.append(sqrtM[d] * blk)
        b.append(sqrtM[d] * inst.W_r[:, d])
    A, b = np.vstack(A_rows), np.concatenate(b)
    w = W_E.reshape(-1)
    step, *_ = np.linalg.lstsq(A, b - A @ w, rcond=None)
    return (w + step).reshape(W_E.shape)


def run_acs(inst: Instance, pattern: Pattern, W_E0: np.ndarray | None = None, *, seed: int = 0,
            eps: float = DEFAULT_EPS, tol: float = 1e-9, max_iter: int = 500, solver: str = "CLARABEL",
            xtol: float = 1e-7, patience: int = 10, press_window: int | None = None, fast_path: bool = True,
            classify: bool = True, _blocks: tuple | None = None) -> ACSResult:
    """ACS inside the piece of `pattern`, from W_E0 (default: a random region point for this seed).

    Each iteration: W_E <- encoder block(W_D) (the CVXPY QP; with fast_path, first the unconstrained
    least-squares minimizer, kept only when it lies in the region, where it solves the block exactly),
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
        W_E0 = random_region_point(reg, rz.witness, np.random.default_rng(seed))
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
    press_key, press_run, last_enc = None, 0, None
    for it in range(1, max_iter + 1):
        e, W_D_enc = None, W_D
        if fast_path:
            W_try = encoder_unconstrained(inst, mask, W_D, W_E)
            if reg.contains(W_try, tol=0.0):
                e = BlockSolution(W_try, approx_loss(inst, W_D, W_try, mask), "optimal", "lstsq",
                                  np.zeros(reg.n_rows))
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
        key = tuple(p["row"] for p in pressing)
        press_run = press_run + 1 if (pressing and key == press_key) else (1 if pressing else 0)
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
    return _certify(inst, pattern, dec, enc, W_D, W_E, last_enc, it, history, tols, classify)


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


def _certify(inst, pattern, dec, enc, W_D, W_E, e, it, history, tols, classify) -> ACSResult:
    """Re-solve both blocks at the final point (W_D, W_E) and decide the outcome."""
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
            "max_multiplier": float(e.duals.max()) if e.duals is not None and e.duals.size else 0.0,
            "active_rows": [int(r) for r in touching], "activity_tolerance": act_tol,
            "multiplier_tolerance": 1e-7 * max(1.0, L), "in_region": bool(reg.contains(W_E, tol=act_tol))}
    res = ACSResult("inconclusive", L, W_E, W_D, it, cert, None, [], None, "", tols, [float(v) for v in history])
    if not (d_cvx.optimal and e_fresh.optimal):
        res.reason = f"certificate re-solve status: decoder {d_cvx.status!r}, encoder {e_fresh.status!r}"
        return res
    if not cert["in_region"]:
        res.reason = f"final W_E violates the region by {-slack.min():.3g}"
        return res
    res.pressing = _pressing(reg, e, W_E, L)
    if res.pressing:
        toward = _toward(pattern, res.pressing)
        if not _valid_for(inst.activation, toward):
            toward = _toward(pattern, res.pressing[:1])
        res.outcome, res.toward = "leaves_region", toward
        p = res.pressing[0]
        res.reason = (f"ACS ({tols.get('stopped_by')}) presses on region row {p['row']} ({p['describe']}) with "
                      f"multiplier {p['multiplier']:.3g}: a {p['kind']} move toward pattern {toward}")
        return res
    if max(cert["decoder_gap"], cert["encoder_gap"]) > gap_tol:
        res.reason = (f"block gaps {cert['decoder_gap']:.3g}, {cert['encoder_gap']:.3g} exceed {gap_tol:.3g} "
                      "after convergence")
        return res
    res.outcome = "partial_optimum"
    res.reason = (f"both blocks optimal (gaps {cert['decoder_gap']:.2g}, {cert['encoder_gap']:.2g}), "
                  "no region row pressed")
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
