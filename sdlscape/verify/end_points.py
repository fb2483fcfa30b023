"""Where a gradient end point lies in the exact landscape: its piece, its outcome, its boundary slack.

A final point's activation pattern (Def. 3.1) names its piece (canonical pattern); a final point
well inside its region (every strict inequality of eq. 13 holds with slack >= `margin`) with a small
piece gradient is a critical point of that piece, and its L~ is compared with the piece's ACS value.
Outcomes of a start:

  global         converged inside a region, L~ within tolerance of the landscape's global value;
  spurious       converged inside a region at a higher L~ (a spurious partial minimum, Thm 3.6);
  leaves_region  the final point lies within `margin` of a strict region boundary (the piece's
                 quadratic pushes across it: what ACS calls leaving the region);
  not_converged  inside a region but the piece gradient is not yet small.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece

DEFAULT_EPS = numerics.MARGIN_EPS

OUTCOMES = ("global", "spurious", "leaves_region", "not_converged")
VALUED = ("global", "spurious")


def read_masks(inst: Instance, W_E: np.ndarray) -> np.ndarray:
    """Activation patterns of stacked encoders (N x q x n_p) as N x q x n boolean masks.

    Batched read of the linear piece of each start (the passed latents), the landscape's pieces.
    """
    W_E = np.asarray(W_E, dtype=float)
    Z = np.einsum("sqp,pd->sdq", W_E, inst.W_p)                 # start, feature, latent
    N, n, q = Z.shape
    return inst.activation.passes(Z.reshape(N * n, q)).reshape(N, n, q).transpose(0, 2, 1)


def boundary_distance(inst: Instance, W_E: np.ndarray, masks: np.ndarray, eps: float = DEFAULT_EPS
                      ) -> tuple[np.ndarray, list[str], list[Pattern]]:
    """Per start: the least slack of the strict inequalities of its own region (eq. 13), margin undone.

    The slack is in the units of the region's margin eps: z_id - threshold for "on" rows, z_id - z_jd
    for "order" rows (features are unit vectors), so a point ACS left on the eps-tightened boundary
    has slack eps.

    Also returns each start's canonical pattern key and the distinct labelled patterns (by index).
    Non-strict inequalities (a feature that does *not* activate a latent) may hold with equality
    inside a region, so only strict ones count.
    """
    N = masks.shape[0]
    flat = masks.reshape(N, -1)
    uniq, inverse = np.unique(flat, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    dist = np.full(N, np.inf)
    keys: list[str] = [""] * N
    patterns = []
    W = np.asarray(W_E, dtype=float).reshape(N, -1)
    for u, row in enumerate(uniq):
        pat = Pattern.from_mask(row.reshape(masks.shape[1:]))
        patterns.append(pat)
        idx = np.flatnonzero(inverse == u)
        key = str(pat.canonical())
        for s in idx:
            keys[s] = key
        reg = Piece(inst, pat, eps, inst.activation.linear_reading).region
        strict = reg.strict
        if not strict.any():
            continue
        G, h = reg.G[strict], reg.h[strict] + eps          # undo the margin: raw strict inequality
        dist[idx] = np.min(h[None, :] - W[idx] @ G.T, axis=1)
    return dist, keys, [patterns[u] for u in inverse]


def landscape_index(landscape: dict) -> dict[str, dict]:
    """Pieces of a landscape result (the "landscape" contract) keyed by canonical pattern text."""
    if not isinstance(landscape, dict) or "pieces" not in landscape or "summary" not in landscape:
        raise InputError("landscape must be a landscape result with 'summary' and 'pieces'")
    n = landscape["summary"].get("n")
    out = {}
    for p in landscape["pieces"]:
        key = p.get("key")
        if key is None:
            if n is None:
                raise InputError("landscape pieces carry no 'key' and the summary no 'n'")
            key = str(Pattern(tuple(frozenset(s) for s in p["pattern"]), int(n)).canonical())
        out[key] = p
    return out


def check_landscape(inst: Instance, landscape: dict) -> None:
    """InputError if a landscape result is malformed or does not belong to this instance."""
    landscape_index(landscape)
    s = landscape["summary"]
    for k, v in (("n", inst.n), ("n_p", inst.n_p), ("n_latents", inst.n_latents)):
        if k in s and s[k] != v:
            raise InputError(f"landscape is for {k} = {s[k]}, but the instance has {k} = {v}")
    if "activation" in s and s["activation"] != inst.activation.to_dict():
        raise InputError(f"landscape is for activation {s['activation']}, the instance has "
                         f"{inst.activation.to_dict()}")


def classify_points(inst: Instance, landscape: dict, W_E: np.ndarray, loss: np.ndarray, gnorm: np.ndarray, *,
                    margin: float, grad_tol: float, loss_tol: float, eps: float) -> dict[str, Any]:
    """Outcome of every final point (module docstring) and its comparison with the landscape."""
    index = landscape_index(landscape)
    gv = landscape["summary"].get("global_value")
    scale = max(1.0, float(np.sum(inst.M)))
    masks = read_masks(inst, W_E)
    dist, keys, pats = boundary_distance(inst, W_E, masks, eps)
    N = len(loss)
    outcome = np.empty(N, dtype=object)
    status = np.empty(N, dtype=object)        # agree | disagree | unmatched | n/a
    piece_loss = np.full(N, np.nan)
    for s in range(N):
        p = index.get(keys[s])
        pl = p.get("loss") if p is not None else None
        if p is not None and p.get("class") in VALUED and pl is not None:
            piece_loss[s] = pl
        if dist[s] < margin:
            outcome[s], status[s] = "leaves_region", "n/a"
            continue
        if not gnorm[s] <= grad_tol * scale:
            outcome[s], status[s] = "not_converged", "n/a"
            continue
        is_global = gv is not None and loss[s] <= gv + loss_tol * scale
        outcome[s] = "global" if is_global else "spurious"
        if np.isnan(piece_loss[s]):
            status[s] = "unmatched"
        elif abs(loss[s] - piece_loss[s]) <= loss_tol * scale:
            status[s] = "agree"
        else:
            status[s] = "disagree"
    return {"outcome": outcome, "status": status, "key": keys, "pattern": pats, "dist": dist,
            "piece_loss": piece_loss, "index": index}


def landscape_point_slacks(inst: Instance, index: dict[str, dict], eps: float) -> dict[str, dict]:
    """For each valued piece: the least strict slack of the landscape's own best point (its W_E).

    A value close to eps means ACS's point presses on the margin-tightened boundary: the piece's
    minimum sits at the edge of its region, where gradient descent rarely stops.
    """
    out = {}
    for key, p in index.items():
        if p.get("class") not in VALUED or p.get("W_E") is None:
            continue
        W_E = np.asarray(p["W_E"], dtype=float)[None]
        d, _, _ = boundary_distance(inst, W_E, read_masks(inst, W_E), eps)
        out[key] = {"class": p["class"], "loss": p.get("loss"), "slack": float(d[0])}
    return out
