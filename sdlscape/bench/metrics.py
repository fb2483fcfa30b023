"""Ground-truth recovery metrics of the bench: M_GT(tau), M_IP (PAPER.md sec. 3), MCC, uniqueness, FVU.

Conventions.  ``learned`` holds learned directions as ROWS (n_latents x d; encoder rows W_E, or
decoder columns given as W_D.T); ``truth`` holds true features as COLUMNS (d x n).  The
similarity S = |normalize(learned) @ normalize(truth)| is n_latents x n.

* M_GT(tau), M_IP (the paper): for each true feature j not excluded (anchors), s_j = max over
  latents of S[:, j]; M_GT = fraction of s_j > tau, M_IP = mean s_j.
* MCC and uniqueness follow SAELens's synthetic-data evaluation: MCC = mean |cos| over an optimal
  one-to-one (Hungarian) matching between latents and true features (min(n_latents, n) pairs);
  uniqueness = (number of distinct true features that are some latent's best match) / n_latents.
* FVU = sum ||x - recon||^2 / sum ||x - mean(x)||^2.
* reader_directions: the least-squares linear read-out of each feature, (W W^T)^+ w_j, a
  diagnostic for where encoder rows go when the decoder holds the true features.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def _rows_unit(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def similarity(learned: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """|cos| between each learned row and each true column: n_latents x n."""
    learned = np.atleast_2d(np.asarray(learned, dtype=np.float64))
    truth = np.asarray(truth, dtype=np.float64)
    if learned.shape[1] != truth.shape[0]:
        raise ValueError(f"learned rows have dim {learned.shape[1]} but true features have dim {truth.shape[0]}")
    return np.abs(_rows_unit(learned) @ _rows_unit(truth.T).T)


def _kept(n: int, exclude) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    ex = np.asarray(list(exclude), dtype=int)
    keep[ex] = False
    return keep


def feature_recovery(learned: np.ndarray, truth: np.ndarray, tau: float = 0.9, exclude=()) -> dict:
    """{"M_GT": fraction of true features with best |cos| > tau, "M_IP": mean best |cos|, "best": s}."""
    S = similarity(learned, truth)
    s = S.max(axis=0)[_kept(S.shape[1], exclude)]
    if s.size == 0:
        return {"M_GT": float("nan"), "M_IP": float("nan"), "best": s}
    return {"M_GT": float(np.mean(s > tau)), "M_IP": float(np.mean(s)), "best": s}


def recovery_curve(learned, truth, taus, exclude=()) -> np.ndarray:
    """M_GT(tau) for each tau in taus."""
    s = feature_recovery(learned, truth, 0.0, exclude)["best"]
    return np.array([float(np.mean(s > t)) if s.size else float("nan") for t in np.asarray(taus, dtype=float)])


def reader_directions(truth) -> np.ndarray:
    """Least-squares readers (W W^T)^+ W (d x n): the linear encoder row that reads feature j best.

    Conditional on feature j being active, the other features enter with covariance proportional
    to W W^T, so the squared-error-optimal linear read-out of c_j is (W W^T)^{-1} w_j (Sherman-
    Morrison); with n > d these readers are far from the features themselves.
    """
    W = np.asarray(truth, dtype=np.float64)
    return np.linalg.pinv(W @ W.T) @ W


def mcc(learned, truth) -> float:
    """Mean |cos| over the Hungarian matching of latents to true features (SAELens's MCC)."""
    S = similarity(learned, truth)
    r, c = linear_sum_assignment(1.0 - S)
    return float(S[r, c].mean())


def uniqueness(learned, truth) -> float:
    """Distinct best-matched true features / n_latents (SAELens's uniqueness)."""
    S = similarity(learned, truth)
    return float(np.unique(S.argmax(axis=1)).size / S.shape[0])


def fvu(x, recon) -> float:
    """Fraction of variance unexplained: sum ||x - recon||^2 / sum ||x - mean x||^2."""
    x, recon = np.asarray(x, dtype=np.float64), np.asarray(recon, dtype=np.float64)
    den = float(((x - x.mean(axis=0)) ** 2).sum())
    return float(((x - recon) ** 2).sum()) / den if den > 0 else float("nan")


def dead_fraction(latent_acts) -> float:
    """Fraction of latents (columns) that never exceed 0 on the given samples."""
    a = np.asarray(latent_acts)
    return float(np.mean(~(a > 0).any(axis=0)))
