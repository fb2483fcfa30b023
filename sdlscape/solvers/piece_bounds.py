"""Closed-form bounds on the cells and pieces of an instance, checked before any enumeration starts.

Cells (one latent, relu/jumprelu): a realizable set F with margin eps has a witness w strictly inside
a region of the affine arrangement {w : <w, w_p^d> = t} with t = threshold + eps/2 (the "on" side
has <w, w_p^d> >= t + eps/2, the "off" side <= threshold < t), so there are at most as many cells as
regions: Zaslavsky / Buck, sum_{i <= r} C(m, i) for m distinct hyperplanes in the span (rank r) of
the features. For relu every chamber of the central arrangement {<w, w_p^d> = 0} is a cell (scale
w), and a central arrangement of m distinct hyperplanes of rank r >= 2 has at least
max(2^r, 2 m) chambers (r independent hyperplanes give 2^r; each further hyperplane H meets the
others in a hyperplane of H, so it splits at least two chambers). Pieces of a separable activation
are multisets of n_latents cells: C(c + n_latents - 1, n_latents), monotone in c.

Coupled latents (TopK, TopK o ReLU): a joint pattern with margin eps lies in a chamber of the central
arrangement in R^{n_latents x n_p} of the hyperplanes z_id = z_jd (orderings) and z_id = 0 (signs),
m = n C(n_q, 2) + n n_q hyperplanes of rank <= n_q n_p: Cover's bound 2 sum_{i < D} C(m - 1, i); and
at most (sum of C(n_q, s) over the column sizes s)^n labelled patterns. The lower bound is found,
not proven in closed form: distinct canonical patterns of random encoders (Gaussian W_E, kept only
where every strict inequality holds with room, so a rescaled W_E realizes it with margin eps).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading

SAMPLE_CHUNK = 2000          # random encoders drawn per batch by the sampled lower bound
SAMPLE_CAP = 20000           # most random encoders drawn before giving up on the lower bound
GAP_REL = 1e-9               # a sampled strict inequality must hold by this much (relative to max |z|)


@dataclass(frozen=True, kw_only=True)
class PieceBounds:
    """Bounds on the pieces (canonical patterns) of an instance and how they were obtained."""

    pieces_lower: int
    pieces_upper: int
    cells_lower: int | None
    cells_upper: int | None
    how: str

    def to_dict(self) -> dict:
        return {"pieces_lower": self.pieces_lower, "pieces_upper": self.pieces_upper,
                "cells_lower": self.cells_lower, "cells_upper": self.cells_upper, "how": self.how}


def _distinct_directions(W: np.ndarray, up_to_sign: bool, tol: float = 1e-9) -> int:
    """Distinct nonzero column directions (p and -p the same when up_to_sign), near-duplicates merged."""
    norms = np.linalg.norm(W, axis=0)
    C = W[:, norms > 1e-12] / norms[norms > 1e-12]
    n = C.shape[1]
    if n == 0:
        return 0
    if n > 4000:                       # too many for a Gram matrix: bucket the coordinates
        keys = np.round(C.T / 1e-6)
        if up_to_sign:
            first = keys[np.arange(n), np.argmax(np.abs(keys) > 0, axis=1)]
            keys = keys * np.where(first < 0, -1.0, 1.0)[:, None]
        return int(np.unique(keys, axis=0).shape[0])
    G = C.T @ C
    if up_to_sign:
        G = np.abs(G)
    dup = np.tril(G > 1.0 - tol, k=-1).any(axis=1)     # a near-copy of an earlier column
    return int(n - dup.sum())


def big(n: int) -> str:
    """An integer for a message: exact up to 10^12, else three significant digits."""
    return str(n) if n < 10 ** 12 else f"{float(n):.3g}"


def _multisets(c: int, r: int) -> int:
    return math.comb(c + r - 1, r) if c > 0 else 0


def separable_bounds(inst, eps: float, max_pieces: int | None = None) -> PieceBounds:
    """Cells and pieces of a relu / jumprelu instance (closed form; jumprelu's lower bound sampled)."""
    W = np.asarray(inst.W_p, dtype=float)
    r = int(np.linalg.matrix_rank(W, tol=1e-10))
    nl = inst.n_latents
    theta = float(inst.activation.threshold)
    m_aff = _distinct_directions(W, up_to_sign=False)
    c_hi = sum(math.comb(m_aff, i) for i in range(r + 1))
    if max_pieces is not None and _multisets(c_hi, nl) <= max_pieces:
        return PieceBounds(pieces_lower=1, pieces_upper=_multisets(c_hi, nl), cells_lower=1, cells_upper=c_hi,
                           how=f"at most {big(c_hi)} cells per latent (Zaslavsky bound, rank {r})")
    if theta == 0:
        m = _distinct_directions(W, up_to_sign=True)
        c_lo = 1 if r == 0 else 2 if r == 1 else max(2 ** r, 2 * m)
        how = (f"closed form: {big(c_lo)} <= cells per latent <= {big(c_hi)} (rank {r}, {m} distinct hyperplanes; "
               "Zaslavsky)")
    else:
        c_lo = _sampled_cells(inst, eps, None if max_pieces is None else _cells_needed(max_pieces, nl))
        how = f"{c_lo} cells found by sampling <= cells per latent <= {big(c_hi)} (affine Zaslavsky bound, rank {r})"
    return PieceBounds(pieces_lower=_multisets(c_lo, nl), pieces_upper=_multisets(c_hi, nl),
                       cells_lower=c_lo, cells_upper=c_hi, how=how)


def _cells_needed(max_pieces: int, nl: int) -> int:
    """The least cell count c whose multisets of nl cells exceed max_pieces."""
    c = 1
    while _multisets(c, nl) <= max_pieces:
        c += 1
    return c


def _sampled_cells(inst, eps: float, enough: int | None) -> int:
    """Distinct single-latent sets of random encoder rows whose codes clear the threshold by >= eps."""
    rng = np.random.default_rng(0)
    W, theta = np.asarray(inst.W_p, dtype=float), float(inst.activation.threshold)
    seen: set[bytes] = set()
    for _ in range(SAMPLE_CAP // SAMPLE_CHUNK):
        scale = rng.uniform(0.0, 3.0 * max(theta, 1.0), size=(SAMPLE_CHUNK, 1))
        Z = scale * (rng.standard_normal((SAMPLE_CHUNK, W.shape[0])) @ W)
        ok = np.all(np.abs(Z - theta) >= eps, axis=1)
        for row in np.packbits(Z[ok] > theta, axis=1):
            seen.add(row.tobytes())
        if enough is not None and len(seen) >= enough:
            break
    return len(seen)


def coupled_bounds(inst, eps: float, reading: Reading | None = None, max_pieces: int | None = None) -> PieceBounds:
    """Pieces of a topk / topk_relu instance: Cover / counting upper bound, sampled lower bound."""
    act, nl, n = inst.activation, inst.n_latents, inst.n
    reading = act.linear_reading if reading is None else reading
    per_feature = sum(math.comb(nl, s) for s in act.column_sizes(nl, reading))
    m = n * math.comb(nl, 2) + n * nl
    D = nl * inst.n_p
    if act.central_arrangement:
        cover = 2 * sum(math.comb(m - 1, i) for i in range(min(D, m)))
    else:   # hyperplanes z_id = threshold are affine: Zaslavsky's bound on the regions (Cover's is for cones)
        cover = sum(math.comb(m, i) for i in range(min(D, m) + 1))
    upper = min(per_feature ** n, cover)
    if max_pieces is not None and upper <= max_pieces:
        return PieceBounds(pieces_lower=1, pieces_upper=upper, cells_lower=None, cells_upper=None,
                           how=f"at most {big(upper)} (Cover / counting bound)")
    lower = _sampled_patterns(inst, reading, None if max_pieces is None else max_pieces + 1, eps)
    return PieceBounds(pieces_lower=lower, pieces_upper=upper, cells_lower=None, cells_upper=None,
                       how=f"{lower} distinct patterns found among random encoders; at most {big(upper)} "
                           "(Cover / counting bound)")


def _sampled_patterns(inst, reading: Reading, enough: int | None, eps: float = 0.0) -> int:
    """Distinct canonical joint patterns of random encoders with every ordering and sign strict (by eps
    when the arrangement is not central: a rescaled encoder would change the pattern)."""
    rng = np.random.default_rng(0)
    act, nl, W = inst.activation, inst.n_latents, np.asarray(inst.W_p, dtype=float)
    t, central = float(act.threshold), act.central_arrangement
    seen: set[tuple[bytes, ...]] = set()
    for _ in range(SAMPLE_CAP // SAMPLE_CHUNK):
        E = rng.standard_normal((SAMPLE_CHUNK, nl, W.shape[0]))
        if not central:
            E *= rng.uniform(0.0, 3.0 * max(t, 1.0), size=(SAMPLE_CHUNK, 1, 1))
        Z = np.einsum("sik,kd->sdi", E, W)                     # (sample, feature, latent)
        srt = np.sort(Z, axis=-1)
        room = GAP_REL * np.abs(Z).max(axis=(1, 2)) if central else eps
        strict = (np.diff(srt, axis=-1).min(axis=(1, 2)) > room) & \
            (np.abs(Z - t).min(axis=(1, 2)) > room)
        masks = np.asarray(act.pattern_mask(Z[strict], reading, axis=-1))  # (sample, feature, latent)
        for mk in np.packbits(np.swapaxes(masks, 1, 2), axis=-1):     # rows: latents
            seen.add(tuple(sorted(row.tobytes() for row in mk)))
        if enough is not None and len(seen) >= enough:
            break
    return len(seen)


def piece_bounds(inst, eps: float, reading: Reading | None = None, max_pieces: int | None = None) -> PieceBounds:
    """Bounds on the number of pieces the landscape of `inst` would enumerate (see the module docstring)."""
    if inst.activation.separable:
        return separable_bounds(inst, eps, max_pieces)
    return coupled_bounds(inst, eps, reading, max_pieces)


def check_enumerable(inst, max_pieces: int, eps: float, reading: Reading | None = None) -> PieceBounds:
    """Refuse at once (InputError naming --max-pieces) an instance with provably more pieces than max_pieces."""
    if isinstance(max_pieces, bool) or not isinstance(max_pieces, int) or max_pieces < 1:
        raise InputError(f"--max-pieces must be a positive integer, got {max_pieces!r}")
    b = piece_bounds(inst, eps, reading, max_pieces)
    if b.pieces_lower > max_pieces:
        raise InputError(f"instance {inst.name or '(unnamed)'} has at least {big(b.pieces_lower)} pieces "
                         f"({b.how}; {inst.n_latents} latents), more than --max-pieces {max_pieces}; not starting")
    return b
