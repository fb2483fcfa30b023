"""The few array operations an activation rule needs, for NumPy arrays and PyTorch tensors alike.

The rule of an activation is written once with these; the array type of the input picks the library
(torch is never imported here: a tensor brings its own module).
"""
from __future__ import annotations

import numpy as np


def is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def where(cond, a, b):
    if is_torch(a):
        return a.where(cond, a.new_tensor(b) if not is_torch(b) else b)
    return np.where(cond, a, b)


def topk_mask(Z, k: int, axis: int = -1):
    """Mask of the k largest entries along `axis`, ties broken toward the lower index (a stable sort)."""
    if is_torch(Z):
        import torch

        if Z.shape[axis] <= SMALL_AXIS and not bool(torch.isnan(Z).any()):
            return _small_axis_topk_mask(Z, k, axis)
        order = torch.sort(-Z, dim=axis, stable=True).indices.narrow(axis, 0, k)
        return torch.zeros_like(Z, dtype=torch.bool).scatter_(axis, order, True)
    Z = np.asarray(Z)
    order = np.take(np.argsort(-Z, axis=axis, kind="stable"), np.arange(k), axis=axis)
    mask = np.zeros(Z.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=axis)
    return mask


SMALL_AXIS = 8     # up to this many entries along the axis, ranks by pairwise comparison beat a sort


def _small_axis_topk_mask(Z, k: int, axis: int):
    """topk_mask for a short axis (NaN-free): entry i is kept iff fewer than k entries precede it in the stable
    descending order, i.e. #{j < i: Z_j >= Z_i} + #{j > i: Z_j > Z_i} < k (the sort's order, as comparisons)."""
    import torch

    Zm = Z.movedim(axis, 0)
    keep = []
    for i in range(Zm.shape[0]):
        ahead = torch.zeros(Zm.shape[1:], dtype=torch.uint8, device=Z.device)
        for j in range(Zm.shape[0]):
            if j != i:
                ahead += (Zm[j] >= Zm[i]) if j < i else (Zm[j] > Zm[i])
        keep.append(ahead < k)
    return torch.stack(keep).movedim(0, axis)
