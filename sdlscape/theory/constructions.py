"""Explicit constructions of the paper and of its counterexamples: Thm 3.3, zero-loss solutions,
eq. 55, the partial optima of partition patterns, and absorption splits (Thm 3.8).

- `construction_3_3`: W_D* = [W_r, 0], W_E* = [W_p^T; 0] (eq. 16).
- `zero_loss_decoder`, `random_zero_loss`: for a fixed W_E with codes Q = sigma(W_E W_p), zero loss
  (Thm 3.4) is reachable iff W_r lies in the row space of Q: W_D = W_r Q^+.
- `recovery`: cosines of encoder rows / decoder columns with the true features (PAPER.md Sec. 3).
- `eq55_decoder`: the paper's weighted least-squares decoder for a fixed W_E (eq. 55).
- `partition_stationary_points`: for a partition pattern and W_p of full column rank, the
  pattern's problem decouples by latent i; a point is block-stationary iff a_i = (z_id)_{d in F_i}
  equals M^{-1/2} v for an eigenvector v of K_i = M^{1/2} (W_r^T W_r)_{F_i} M^{1/2}. The open region
  (relu, jumprelu, topk_relu) needs v > 0: decided per eigenspace by an LP.
- `split_pattern`: P' of Thm 3.8 (one sub-concept moved from its parent's latent to a dead latent).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import feature_codes
from sdlscape.theory.patterns import Pattern


def construction_3_3(inst: Instance) -> tuple[np.ndarray, np.ndarray]:
    """(W_D*, W_E*) = ([W_r, 0], [W_p^T; 0]) padded with zeros to n_latents >= n (Thm 3.3)."""
    if inst.n_latents < inst.n:
        raise InputError(f"Thm 3.3 needs n_latents >= n, got {inst.n_latents} < {inst.n}")
    W_D = np.zeros((inst.n_r, inst.n_latents))
    W_D[:, :inst.n] = inst.W_r
    W_E = np.zeros((inst.n_latents, inst.n_p))
    W_E[:inst.n] = inst.W_p.T
    return W_D, W_E


def bound_3_3(inst: Instance) -> float:
    """n^2 M^2 sum_d M_d (eq. 16), M the maximum interference."""
    return float(inst.n ** 2 * inst.max_interference ** 2 * inst.M.sum())


def zero_loss_decoder(inst: Instance, W_E: np.ndarray, tol: float = 1e-9) -> np.ndarray | None:
    """W_D = W_r Q^+ if it reconstructs every feature alone exactly (L~ = 0), else None."""
    Q = feature_codes(inst, W_E)
    W_D = inst.W_r @ np.linalg.pinv(Q)
    return W_D if np.max(np.abs(W_D @ Q - inst.W_r)) <= tol else None


def recovery(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, tau: float = 0.9) -> dict:
    """Best |cos| of each true feature with encoder rows (vs w_p) and decoder columns (vs w_r).

    A feature counts as recovered by the encoder (decoder) if some row (column) has |cos| > tau.
    """
    def best(A: np.ndarray, W: np.ndarray) -> np.ndarray:  # A: vectors as columns
        norms = np.linalg.norm(A, axis=0)
        keep = norms > 1e-12
        if not keep.any():
            return np.zeros(W.shape[1])
        return np.max(np.abs((A[:, keep] / norms[keep]).T @ W), axis=0)

    enc = best(W_E.T, inst.W_p)
    dec = best(W_D, inst.W_r)
    return {"encoder_best_cos": enc.tolist(), "decoder_best_cos": dec.tolist(),
            "encoder_recovered": int((enc > tau).sum()), "decoder_recovered": int((dec > tau).sum()), "tau": tau}


def _avoiding_rows(inst: Instance, rng: np.random.Generator, tau: float, tries: int = 500) -> np.ndarray | None:
    """Random encoder rows whose direction has |cos| <= tau with every w_p^d (random norms in [0.5, 2])."""
    rows = []
    for _ in range(inst.n_latents):
        for _ in range(tries):
            u = rng.standard_normal(inst.n_p)
            u /= np.linalg.norm(u)
            if np.max(np.abs(u @ inst.W_p)) <= tau:
                rows.append(u * rng.uniform(0.5, 2.0))
                break
        else:
            return None
    return np.array(rows)


def random_zero_loss(inst: Instance, rng: np.random.Generator, tries: int = 200, tau: float = 0.9,
                     want_no_recovery: bool = True) -> tuple[np.ndarray, np.ndarray] | None:
    """A zero-loss (W_D, W_E) from a random encoder; with want_no_recovery, one recovering no feature
    (half of the tries draw encoder rows that already avoid every feature direction)."""
    for t in range(tries):
        W_E = _avoiding_rows(inst, rng, tau) if want_no_recovery and t % 2 else None
        if W_E is None:
            W_E = rng.standard_normal((inst.n_latents, inst.n_p))
        W_D = zero_loss_decoder(inst, W_E)
        if W_D is None:
            continue
        rec = recovery(inst, W_D, W_E, tau)
        if not want_no_recovery or rec["encoder_recovered"] + rec["decoder_recovered"] == 0:
            return W_D, W_E
    return None


def eq55_decoder(inst: Instance, W_E: np.ndarray, pattern: Pattern) -> np.ndarray:
    """eq. 55: w_D^i = sum_{d in F_i} M_d a_id w_r^d / sum_{d in F_i} M_d a_id^2 (0 for dead latents)."""
    A = W_E @ inst.W_p
    W_D = np.zeros((inst.n_r, inst.n_latents))
    for i, F in enumerate(pattern.sets):
        F = sorted(F)
        if not F:
            continue
        a = A[i, F]
        den = float(np.sum(inst.M[F] * a * a))
        if den > 0:
            W_D[:, i] = inst.W_r[:, F] @ (inst.M[F] * a) / den
    return W_D


def positive_vector_in_span(V: np.ndarray) -> np.ndarray | None:
    """A vector v = V c with every entry >= 1 (so v > 0), or None if span(V) misses the open orthant."""
    m, r = V.shape
    res = linprog(np.zeros(r), A_ub=-V, b_ub=-np.ones(m), bounds=[(None, None)] * r, method="highs")
    if res.status == 0:
        return V @ res.x
    return None


@dataclass
class LatentAnalysis:
    """Per-latent result of `partition_stationary_points`."""

    latent: int
    features: list[int]
    eigenvalues: list[float]
    positive_eigenvalue: float | None  # an eigenvalue whose eigenspace meets the open orthant
    a: list[float] | None  # the codes a_id of a stationary point inside the region (None if none)
    signed_codes: bool = False  # plain TopK only: no positive eigenvector, the codes have mixed signs


def _eigenspaces(K: np.ndarray, tol: float = numerics.EIGENSPACE_REL):
    lam, V = np.linalg.eigh(K)
    groups, start = [], 0
    for j in range(1, len(lam) + 1):
        if j == len(lam) or lam[j] - lam[j - 1] > tol * max(1.0, abs(lam[-1])):
            groups.append((float(lam[start:j].mean()), V[:, start:j]))
            start = j
    return sorted(groups, key=lambda g: -g[0])  # largest first: the best fit of the piece first


def latent_eigenspaces(piece):
    """(i, F_i, M_F, eigenspaces of K_i, largest first) for every latent of the piece's pattern that fires."""
    for i, F in enumerate(piece.pattern.sets):
        if F:
            F = sorted(F)
            yield i, F, piece.instance.M[F], _eigenspaces(piece.latent_gram(i))


def full_column_rank(inst: Instance) -> bool:
    return bool(np.linalg.matrix_rank(inst.W_p, tol=1e-9) == inst.n)


def partition_stationary_points(piece, scale: float = 1.0, sign_free: bool | None = None
                                ) -> tuple[list[LatentAnalysis], tuple[np.ndarray, np.ndarray] | None]:
    """For a partition pattern and W_p of full column rank: per-latent fixed-point analysis, and a
    block-stationary point (W_D, W_E) inside the piece's region if one exists (else None).

    Codes may take any sign when the region only orders them (plain TopK, k = 1, selection reading: the
    selected latent only has to rank first); otherwise they must be positive (above the threshold,
    reached by scaling). sign_free overrides that rule (a deliberately false rule, for tests).
    """
    from sdlscape.theory.region import ConstraintKind

    inst, pattern, eps = piece.instance, piece.pattern, piece.margin
    if not piece.linear:
        raise InputError("partition_stationary_points needs a linear piece (see Piece.parts)")
    if not pattern.is_partition:
        raise InputError("partition_stationary_points needs a partition pattern")
    if not full_column_rank(inst):
        raise InputError("partition_stationary_points needs W_p of full column rank")
    act = inst.activation
    if sign_free is None:
        sign_free = not any(c.kind is ConstraintKind.ON for c in piece.region.constraints)
    t = act.threshold
    Z = np.zeros((inst.n_latents, inst.n))
    W_D = np.zeros((inst.n_r, inst.n_latents))
    out, ok = [], True
    for i, F, m, spaces in latent_eigenspaces(piece):
        found, signed = None, False
        for lam, V in spaces:  # positive codes first (then the pattern also reads the same under sigma > 0)
            v = positive_vector_in_span(V)
            if v is not None:
                found = (lam, v)
                break
        if found is None and sign_free:
            found, signed = (spaces[0][0], spaces[0][1][:, 0]), True
        a = None
        if found is not None:
            lam, v = found
            a = v / np.sqrt(m)
            if not sign_free:
                floor = t + 2 * eps
                a = a * max(scale, floor / float(a.min()))
            else:
                a = a / float(np.max(np.abs(a))) * scale
                if not signed:
                    a = a * max(1.0, 2 * eps / float(a.min()))
            Z[i, F] = a
            den = float(np.sum(m * a * a))
            W_D[:, i] = inst.W_r[:, F] @ (m * a) / den if den > 0 else 0.0
        else:
            ok = False
        out.append(LatentAnalysis(i, F, [float(lam) for lam, _ in spaces], None if found is None else found[0],
                                  None if a is None else a.tolist(), signed))
    if not ok:
        return out, None
    # Off entries: far below every selected code, so no off / order constraint is near binding.
    low = min(0.0, float(Z.min())) - 1.0 - t
    Z = np.where(pattern.mask, Z, low)
    W_E = Z @ np.linalg.pinv(inst.W_p)
    return out, (W_D, W_E)


def split_pattern(pattern: Pattern, latent: int, feature: int, dead: int) -> Pattern:
    """P' of Thm 3.8: `feature` leaves latent `latent` and becomes the only feature of latent `dead`."""
    if feature not in pattern.sets[latent] or pattern.sets[dead]:
        raise InputError("split_pattern needs a feature of `latent` and an empty latent `dead`")
    sets = list(pattern.sets)
    sets[latent] = sets[latent] - {feature}
    sets[dead] = frozenset({feature})
    return Pattern(tuple(sets), pattern.n)
