"""The SDL losses: exact loss on samples (eq. 3/4) and the approximate loss L~ (eq. 11), with gradients.

This is the one loss implementation every solver uses. W_E is n_latents x n_p (rows w_E^i),
W_D is n_r x n_latents (columns w_D^i).
"""
from __future__ import annotations

import numpy as np

from sdlscape.errors import InputError
from sdlscape.outcomes import Reading
from sdlscape.theory.instance import Instance


def check_weights(inst: Instance, W_E: np.ndarray | None = None, W_D: np.ndarray | None = None) -> None:
    """Raise InputError if W_E / W_D have the wrong shape for inst or are not finite."""
    for name, W, shape in (("W_E", W_E, (inst.n_latents, inst.n_p)), ("W_D", W_D, (inst.n_r, inst.n_latents))):
        if W is None:
            continue
        W = np.asarray(W)
        if W.shape != shape:
            raise InputError(f"{name} must have shape {shape} for this instance, got {W.shape}")
        if not np.all(np.isfinite(W)):
            raise InputError(f"{name} contains NaN or inf")


def feature_codes(inst: Instance, W_E: np.ndarray) -> np.ndarray:
    """Q = sigma(W_E w_p^d) for each feature d alone: n_latents x n (column d is feature d's code)."""
    return inst.activation.apply(np.asarray(W_E, dtype=float) @ inst.W_p, axis=0)


def feature_mask(inst: Instance, W_E: np.ndarray, reading: Reading = Reading.DEF_3_1) -> np.ndarray:
    """The activation pattern as a boolean n_latents x n mask: mask[i, d] iff d activates latent i
    (Def. 3.1: sigma(W_E w_p^d)_i > 0; Reading.SELECTION: sigma passes z_id, the linear piece)."""
    return inst.activation.pattern_mask(np.asarray(W_E, dtype=float) @ inst.W_p, reading, axis=0)


def passed_mask(inst: Instance, W_E: np.ndarray) -> np.ndarray:
    """The latents sigma passes for each feature alone: the linear piece W_E lies in (sigma = mask * z)."""
    return inst.activation.passes(np.asarray(W_E, dtype=float) @ inst.W_p, axis=0)


def approx_residuals(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """R = W_r - W_D Q: column d is w_r^d - W_D sigma(W_E w_p^d).

    With a mask (a fixed pattern), Q = mask * (W_E W_p): the linear map of the pattern's region,
    which equals sigma inside that region.
    """
    Z = W_E @ inst.W_p
    Q = inst.activation.apply(Z, axis=0) if mask is None else np.where(mask, Z, 0.0)
    return inst.W_r - W_D @ Q


def approx_loss(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray | None = None) -> float:
    """L~(W_D, W_E) = sum_d M_d || w_r^d - W_D sigma(W_E w_p^d) ||^2 (eq. 11)."""
    R = approx_residuals(inst, W_D, W_E, mask)
    return float(np.sum(inst.M * np.sum(R * R, axis=0)))


def approx_loss_per_feature(inst: Instance, W_D: np.ndarray, W_E: np.ndarray) -> np.ndarray:
    """The terms M_d || w_r^d - W_D sigma(W_E w_p^d) ||^2 of eq. 11, one per feature."""
    R = approx_residuals(inst, W_D, W_E)
    return inst.M * np.sum(R * R, axis=0)


def approx_grad(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, mask: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Gradients (dL~/dW_D, dL~/dW_E) of the region's quadratic (mask fixed; default: W_E's own pattern).

    With R = W_r - W_D (A * Z), Z = W_E W_p, A the mask:
      dL/dW_D = -2 R diag(M) (A*Z)^T,  dL/dW_E = -2 (A * (W_D^T R diag(M))) W_p^T.
    """
    if mask is None:
        mask = passed_mask(inst, W_E)
    Z = W_E @ inst.W_p
    Q = np.where(mask, Z, 0.0)
    RM = (inst.W_r - W_D @ Q) * inst.M
    gD = -2.0 * RM @ Q.T
    gE = -2.0 * np.where(mask, W_D.T @ RM, 0.0) @ inst.W_p.T
    return gD, gE


def exact_loss(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, X: np.ndarray) -> float:
    """L_SDL = mean over samples of || x_r - W_D sigma(W_E x_p) ||^2 (eq. 3/4), X: samples x n features."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    if X.shape[1] != inst.n:
        raise InputError(f"samples must have {inst.n} feature coefficients per row, got {X.shape[1]}")
    return float(np.mean(exact_sample_errors(inst, W_D, W_E, X)))


def exact_sample_errors(inst: Instance, W_D: np.ndarray, W_E: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Per-sample squared errors || x_r(s) - W_D sigma(W_E x_p(s)) ||^2."""
    Xp = X @ inst.W_p.T
    Xr = X @ inst.W_r.T
    recon = inst.activation.apply(Xp @ W_E.T, axis=-1) @ W_D.T
    return np.sum((Xr - recon) ** 2, axis=1)
