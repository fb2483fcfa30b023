"""Feature absorption conditioned on the hierarchy (Def. 3.2, Thm 3.8): a deterministic oracle on samples.

For each parent / child pair of the ground-truth hierarchy (``[{"parent": p, "children": [c, ...]}]``) and
the samples where the child is active (its true coefficient is nonzero; by Def. 3.2 the parent is then
active too), with the dictionary's own codes on those samples:

* the parent's latents P = {i : |cos(d_i, w_p)| >= match} (decoder rows d_i; none -> the parent is not
  represented and every rate below that needs P is reported against an empty P);
* ``parent_fires``: fraction of those samples on which some latent of P fires (recall of the parent given
  the child);
* ``absorbed``: fraction on which no latent of P fires while some firing latent outside P *carries the
  parent's direction*, cos(d_i, w_p) >= carry (signed: it writes the parent when it fires) -- the child's
  latent has absorbed the parent (Chanin et al.'s absorption, Thm 3.8's split-off neuron);
* ``carrier_cos``: the largest cos(d_i, w_p) over latents outside P that fire on those samples (mean).

Per parent: ``split`` is true when two or more latents carry the parent's direction (cos >= carry) and each
fires (on more than ``fire_frac`` of the samples) for only a strict subset of the parent's children:
the parent's feature set F_i has been divided among latents (Thm 3.8's P'; a parent latent that lost one
child to an absorbing latent is such a split, a parent spread over per-child latents is another).  Aggregates are plain means
over pairs / parents.  Nothing is random: the same arrays give the same numbers.
"""
from __future__ import annotations

import numpy as np

MATCH_COS = 0.9      # a latent is a feature's latent (bench's tau for Tables 4-7)
CARRY_COS = 0.3      # a latent writes a visible share of the parent's direction (far above M = 0.1 interference)
FIRE_FRAC = 0.5      # a latent "fires for a child" when it fires on more than half of that child's samples


def _unit_rows(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def absorption(codes: np.ndarray, X: np.ndarray, W_dec_rows: np.ndarray, W_out: np.ndarray, hierarchy,
               match: float = MATCH_COS, carry: float = CARRY_COS, fire_frac: float = FIRE_FRAC) -> dict:
    """Per pair and aggregated absorption of a dictionary (see the module docstring).

    codes: N x d_sae, the dictionary's codes on the samples; X: N x n, the samples' true coefficients;
    W_dec_rows: d_sae x d_out; W_out: d_out x n (true features as columns); hierarchy as in bench/truth.py.
    """
    codes, X = np.asarray(codes), np.asarray(X)
    if codes.shape[0] != X.shape[0]:
        raise ValueError(f"codes have {codes.shape[0]} samples but the true coefficients {X.shape[0]}")
    D = _unit_rows(W_dec_rows)
    F = np.asarray(W_out, dtype=np.float64)
    F = F / np.maximum(np.linalg.norm(F, axis=0, keepdims=True), 1e-12)
    fires = codes != 0
    pairs, parents = [], []
    for g in hierarchy:
        p, children = int(g["parent"]), [int(c) for c in g["children"]]
        cos_p = D @ F[:, p]                                   # signed cos of every latent with the parent
        P = np.flatnonzero(np.abs(cos_p) >= match)
        carriers = np.flatnonzero(cos_p >= carry)
        cover = {}
        for c in children:
            on = X[:, c] != 0
            n_on = int(on.sum())
            f = fires[on]
            p_fire = f[:, P].any(1) if P.size else np.zeros(n_on, dtype=bool)
            outside = np.setdiff1d(carriers, P)
            carried = f[:, outside].any(1) if outside.size else np.zeros(n_on, dtype=bool)
            firing_cos = np.where(f, cos_p[None, :], -np.inf)
            firing_cos[:, P] = -np.inf
            best = firing_cos.max(1) if n_on and D.shape[0] else np.zeros(0)
            best = best[np.isfinite(best)]
            cover[c] = f[:, carriers].mean(0) > fire_frac if n_on else np.zeros(carriers.size, dtype=bool)
            pairs.append({"parent": p, "child": c, "samples": n_on,
                          "parent_latents": P.tolist(),
                          "parent_fires": float(p_fire.mean()) if n_on else None,
                          "absorbed": float((~p_fire & carried).mean()) if n_on else None,
                          "carrier_cos": float(best.mean()) if best.size else None})
        covered = np.array([cover[c] for c in children]) if children else np.zeros((0, carriers.size), bool)
        partial = [int(carriers[j]) for j in range(carriers.size)
                   if covered[:, j].any() and not covered[:, j].all()]
        parents.append({"parent": p, "children": children, "parent_latents": P.tolist(),
                        "carrier_latents": carriers.tolist(), "partial_carriers": partial,
                        "split": len(partial) >= 2})

    def mean(key, rows):
        vals = [r[key] for r in rows if r[key] is not None]
        return float(np.mean(vals)) if vals else None

    return {"pairs": pairs, "parents": parents,
            "summary": {"pairs": len(pairs), "parents": len(parents),
                        "parent_fires_mean": mean("parent_fires", pairs), "absorbed_mean": mean("absorbed", pairs),
                        "absorbed_pairs": int(sum((r["absorbed"] or 0) > 0.5 for r in pairs)),
                        "split_parents": int(sum(r["split"] for r in parents)),
                        "unrepresented_parents": int(sum(not r["parent_latents"] for r in parents))},
            "thresholds": {"match_cos": match, "carry_cos": carry, "fire_frac": fire_frac}}


def absorption_of(sae, truth, chunk: int = 2048) -> dict:
    """absorption() of a loaded dictionary on the truth's held-out samples and their true coefficients."""
    from sdlscape.bench.evaluate import run_codes

    if not truth.hierarchy:
        return {"applicable": False, "why": "the bench has no hierarchy (its features are independent)"}
    codes, *_ = run_codes(sae, truth.eval_x_in, chunk=chunk, keep=True)
    return {"applicable": True, **absorption(codes, truth.eval_codes, sae.W_dec, truth.W_out, truth.hierarchy)}
