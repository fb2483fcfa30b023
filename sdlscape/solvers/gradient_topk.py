"""TopK selection of the sparse trainer: torch.topk's selection exactly, in fewer element visits.

torch.topk on the CPU copies each row of z (batch x n_latents) into (value, index) pairs and partially
sorts them: 80-110 ms of a paper-size step (16000 latents, batch 1024, k = 128, 1 thread).  Here the row
is first cut into ``GROUP`` strided groups (latents c, c + m, c + 2m, ...; m = n / GROUP) whose maxima come
from one vectorised pass; the k groups with the largest maxima hold every entry of the row's top k (an
entry outside them is at most the (k+1)-th group maximum, which is at most the k-th largest entry), so
torch.topk runs on those k * GROUP candidates only.

Exactness.  The top-k *set* of a row is unique unless its k-th and (k+1)-th largest entries tie; then
torch.topk's own tie-breaking decides which latent is taken.  Rows where the k-th largest candidate ties
with the next candidate or with the (k+1)-th group maximum (the only ways an equal entry can be left out),
and every row of a z holding a NaN, are recomputed by torch.topk on the full row, as before.  So the
selected columns, ascending, are bit-identical to ``z.topk(k, dim=1, sorted=False).indices.sort(1)``.
"""
from __future__ import annotations

import torch

GROUP = 8   # candidates per selected latent; 4 and 16 were slower at k = 32 and 128 (768 x 16000, batch 1024)


def _plain(z: torch.Tensor, k: int) -> torch.Tensor:
    return z.topk(k, dim=1, sorted=False).indices.sort(dim=1).values


def topk_cols(z: torch.Tensor, k: int) -> torch.Tensor:
    """Columns of the k largest entries of each row of z (B x n), ascending: torch.topk's choice (module doc)."""
    B, n = z.shape
    m = n // GROUP
    if n % GROUP or m < 4 * (k + 1) or not z.is_contiguous() or z.device.type != "cpu" or B == 0:
        return _plain(z, k)
    gmax = z.view(B, GROUP, m).amax(1)                      # gmax[b, c] = max_i z[b, c + i m]
    gv, gi = gmax.topk(k + 1, dim=1, sorted=True)
    if bool(torch.isnan(gv[:, 0]).any()):                  # NaN ranks first in torch.topk: let it decide
        return _plain(z, k)
    cand = (gi[:, :k, None] + m * torch.arange(GROUP, device=z.device)).view(B, k * GROUP)
    cv, ci = z.gather(1, cand).topk(k + 1, dim=1, sorted=True)
    vk = cv[:, k - 1]
    cols = cand.gather(1, ci[:, :k])
    tied = (cv[:, k] == vk) | (gv[:, k] >= vk)
    if bool(tied.any()):
        r = tied.nonzero(as_tuple=True)[0]
        cols[r] = z[r].topk(k, dim=1, sorted=False).indices
    return cols.sort(dim=1).values
