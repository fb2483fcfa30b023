"""Activations sigma (eq. 5-7, 10) and their activation-pattern regions Omega_P (eq. 13).

Every per-sample activation here satisfies sigma(z)_i in {0, z_i} (eq. 10): it *selects* a set of
latents and passes their pre-activations through. The selection of latent i by feature d alone
(input w_p^d, unit magnitude) is the activation pattern of Def. 3.1; the set of encoders W_E
producing a given selection is a region cut out by linear inequalities in vec(W_E) (row-major,
index i * n_p + j for W_E[i, j]). This module is the one place that knows those inequalities.

Arrays: Z has one row per sample and one column per latent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdlscape.errors import InputError
from sdlscape.theory.instance import Activation

DEFAULT_EPS = 1e-3


def relu(Z: np.ndarray) -> np.ndarray:
    return np.maximum(Z, 0.0)


def jumprelu(Z: np.ndarray, theta: float) -> np.ndarray:
    """z * H(z - theta) (eq. 6), with H(0) = 0: a latent at exactly theta is off."""
    return np.where(Z > theta, Z, 0.0)


def topk_mask(Z: np.ndarray, k: int) -> np.ndarray:
    """Boolean mask of the k largest entries of each row (ties broken toward the lower index)."""
    Z = np.atleast_2d(Z)
    if k > Z.shape[1]:
        raise InputError(f"k = {k} exceeds the number of latents {Z.shape[1]}")
    order = np.argsort(-Z, axis=1, kind="stable")[:, :k]
    mask = np.zeros(Z.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask


def topk(Z: np.ndarray, k: int) -> np.ndarray:
    """Keep the k largest entries of each sample, zero the rest (eq. 7)."""
    return np.where(topk_mask(Z, k), Z, 0.0)


def topk_relu(Z: np.ndarray, k: int) -> np.ndarray:
    """TopK o ReLU: the k largest entries that are also positive."""
    return np.where(topk_mask(Z, k) & (Z > 0), Z, 0.0)


def batchtopk(Z: np.ndarray, k: int) -> np.ndarray:
    """BatchTopK: keep the k * batch_size largest entries of the whole batch (not per-sample)."""
    Z = np.atleast_2d(Z)
    if k > Z.shape[1]:
        raise InputError(f"k = {k} exceeds the number of latents {Z.shape[1]}")
    m = k * Z.shape[0]
    flat = Z.reshape(-1)
    keep = np.zeros(flat.shape, dtype=bool)
    keep[np.argsort(-flat, kind="stable")[:m]] = True
    return np.where(keep.reshape(Z.shape), Z, 0.0)


def selection(act: Activation, Z: np.ndarray) -> np.ndarray:
    """Boolean mask of the latents sigma passes through: the activation pattern of each row.

    relu / jumprelu / topk_relu: sigma(z)_i = z_i > 0 (Def. 3.1). topk: the k selected latents,
    whatever their signs, since plain TopK passes negative values too and its linear pieces are
    indexed by the selection.
    """
    Z = np.atleast_2d(np.asarray(Z, dtype=float))
    if act.name == "relu":
        return Z > 0
    if act.name == "jumprelu":
        return Z > act.theta
    if act.name == "topk":  # the selection itself (exactly k latents), whatever their signs
        return topk_mask(Z, act.k)
    if act.name == "topk_relu":
        return topk_mask(Z, act.k) & (Z > 0)
    raise InputError(f"unknown activation {act.name!r}")


def apply(act: Activation, Z: np.ndarray) -> np.ndarray:
    """sigma applied to each row of Z."""
    Z = np.asarray(Z, dtype=float)
    if act.name == "relu":
        return relu(Z)
    if act.name == "jumprelu":
        return jumprelu(Z, act.theta)
    if act.name == "topk":
        return topk(Z, act.k)
    if act.name == "topk_relu":
        return topk_relu(Z, act.k)
    raise InputError(f"unknown activation {act.name!r}")


@dataclass(frozen=True)
class Constraint:
    """One inequality of a region, for reporting: which latent/feature it concerns.

    kind "on": feature d activates latent i (strict); "off": it does not; "order": latent i
    is ranked above latent j for feature d (strict; TopK).
    """

    kind: str
    latent: int
    feature: int
    other: int = -1

    def describe(self) -> str:
        if self.kind == "on":
            return f"feature {self.feature} activates latent {self.latent}"
        if self.kind == "off":
            return f"feature {self.feature} does not activate latent {self.latent}"
        return f"for feature {self.feature}, latent {self.latent} ranks above latent {self.other}"


@dataclass(frozen=True, eq=False)
class Region:
    """Omega_P as G @ vec(W_E) <= h (eq. 13); strict inequalities carry the margin eps in h.

    A strict inequality a.w < b is stored as a.w <= b - eps; `strict[r]` marks those rows.
    """

    G: np.ndarray
    h: np.ndarray
    strict: np.ndarray
    constraints: tuple[Constraint, ...]
    shape: tuple[int, int]
    eps: float

    @property
    def n_rows(self) -> int:
        return self.G.shape[0]

    def slack(self, W_E: np.ndarray) -> np.ndarray:
        """h - G vec(W_E): nonnegative inside the (margin-tightened) region."""
        return self.h - self.G @ np.asarray(W_E, dtype=float).reshape(-1)

    def contains(self, W_E: np.ndarray, tol: float = 1e-9) -> bool:
        return bool(np.all(self.slack(W_E) >= -tol))


def _z_row(i: int, d: int, W_p: np.ndarray, n_latents: int) -> np.ndarray:
    """Coefficients of z_{id} = <w_E^i, w_p^d> in vec(W_E)."""
    n_p = W_p.shape[0]
    row = np.zeros(n_latents * n_p)
    row[i * n_p:(i + 1) * n_p] = W_p[:, d]
    return row


def check_selection_counts(act: Activation, mask: np.ndarray) -> None:
    """Reject patterns no W_E of this activation can produce for structural reasons (TopK counts)."""
    if act.name not in ("topk", "topk_relu"):
        return
    counts = mask.sum(axis=0)
    for d, c in enumerate(counts):
        if act.name == "topk" and c != act.k:
            raise InputError(f"impossible pattern for topk(k={act.k}): feature {d} activates {c} latents, "
                             f"but TopK passes exactly k = {act.k}")
        if act.name == "topk_relu" and c > act.k:
            raise InputError(f"impossible pattern for topk_relu(k={act.k}): feature {d} activates {c} latents, "
                             f"more than k = {act.k}")


def region_inequalities(act: Activation, W_p: np.ndarray, mask: np.ndarray, eps: float = DEFAULT_EPS) -> Region:
    """The region Omega_P of encoders whose selection for each feature alone is mask[:, d].

    relu: z_id >= eps if selected, z_id <= 0 if not.
    jumprelu: z_id >= theta + eps if selected, z_id <= theta if not.
    topk: z_id >= z_jd + eps for selected i and unselected j (exactly k selected).
    topk_relu: z_id >= eps for selected i; if fewer than k are selected, z_jd <= 0 for the others;
    if exactly k, z_id >= z_jd + eps for selected i, unselected j.
    """
    if eps <= 0:
        raise InputError(f"the margin eps must be positive, got {eps}")
    mask = np.asarray(mask, dtype=bool)
    n_latents, n = mask.shape
    check_selection_counts(act, mask)
    rows, rhs, strict, cons = [], [], [], []

    def add(row, b, is_strict, c):
        rows.append(row)
        rhs.append(b - eps if is_strict else b)
        strict.append(is_strict)
        cons.append(c)

    for d in range(n):
        sel = np.flatnonzero(mask[:, d])
        unsel = np.flatnonzero(~mask[:, d])
        if act.name in ("relu", "jumprelu"):
            t = 0.0 if act.name == "relu" else float(act.theta)
            for i in sel:
                add(-_z_row(i, d, W_p, n_latents), -t, True, Constraint("on", int(i), d))
            for i in unsel:
                add(_z_row(i, d, W_p, n_latents), t, False, Constraint("off", int(i), d))
        else:
            if act.name == "topk_relu":
                for i in sel:
                    add(-_z_row(i, d, W_p, n_latents), 0.0, True, Constraint("on", int(i), d))
            if act.name == "topk_relu" and len(sel) < act.k:
                for j in unsel:
                    add(_z_row(j, d, W_p, n_latents), 0.0, False, Constraint("off", int(j), d))
            else:
                for i in sel:
                    for j in unsel:
                        add(_z_row(j, d, W_p, n_latents) - _z_row(i, d, W_p, n_latents), 0.0, True,
                            Constraint("order", int(i), d, int(j)))
    dim = n_latents * W_p.shape[0]
    G = np.array(rows).reshape(-1, dim) if rows else np.zeros((0, dim))
    return Region(G=G, h=np.array(rhs, dtype=float), strict=np.array(strict, dtype=bool),
                  constraints=tuple(cons), shape=(n_latents, W_p.shape[0]), eps=float(eps))
