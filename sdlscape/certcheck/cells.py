"""A free latent's normalised cell in a certificate: inside its closed cell, and all of it (maximal).

The cell of latent i with feature set F is a polytope in the slice {w : sum_{d in F} z_d = 1} (z = w W_p, the
latent's codes), cut out by homogeneous rows c . z <= 0 (`cell_rows`):
  threshold 0 (relu, topk_relu): -z_d <= 0 (d in F) and z_e <= 0 (e in `off`: every other feature for relu; for
      TopK o ReLU the features fewer than k latents fire on, a relaxation, see certcheck.off_features);
  jumprelu (theta > 0): the directions of the cell (certify/reduce._latent_rows: theta cancels): -z_d <= 0 and
      z_e - z_d <= 0 (d in F, e not in F);
and the certificate lists its vertices (`cell`). `check_cell` says why a listed cell is not that polytope:
  inside: every vertex has every row <= TIGHT (its codes: normalised, so of order 1);
  maximal, n_p = 2 (a segment): every end has some row within TIGHT of 0 (on a line an affine row that is 0 at an
      end and <= 0 on the segment is >= 0 past it: the end is the cell's);
  maximal, n_p = 3 with >= 3 vertices (a polygon): the vertices turn one way (every consecutive turn and every fan
      triangle from vertex 0 has the same orientation in the slice: a convex polygon traversed once), and every edge
      lies on a row: some row within TIGHT of 0 at both its ends that is not within TIGHT of 0 at every vertex (a
      row that vanishes on the whole slice bounds nothing). A closed convex curve on the boundary of the cell is its
      whole boundary, so the polygon is the cell up to TIGHT;
  maximal, n_p = 3 with 2 vertices (a rank-2 cell: the codes on F span a plane, so the normalised code image is a
      segment on a line with direction u): the end with the larger <z_F, u> maximises w . g, g = B^T u (B = the
      codes' map), over the cell, and the other end minimises it, each by its KKT certificate: g (resp. -g) =
      sum lambda_r a_r + mu s with lambda >= 0 on rows within TIGHT of 0 at that end (a_r the rows in w, s the
      slice's normal), solved by least squares on at most two rows, residual and negative lambda within KKT_REL;
      where the codes on F have rank 3 (sigma_3 > RANK_REL sigma_1) a 2-vertex cell is a segment of the slice: the
      same KKT test for +-(V_1 - V_0) at the ends and for both directions across the segment at V_0.
TIGHT and KKT_REL are float tolerances (the vertices are float solutions; on the committed certificates the edge
residuals are below 1e-15): a cell shrunk by less than TIGHT (in normalised codes) would pass.
"""
from __future__ import annotations

import itertools

import numpy as np

TIGHT = 1e-9
KKT_REL = 1e-9
RANK_REL = 1e-9


def cell_rows(n: int, F: list[int], off: list[int], jump: bool) -> np.ndarray:
    """The rows C (m x n) of the closed cell {z : C z <= 0} (module docstring)."""
    rows = []
    for d in F:
        r = np.zeros(n)
        r[d] = -1.0
        rows.append(r)
    rest = off if not jump else [e for e in range(n) if e not in F]
    for e in rest:
        if jump:
            for d in F:
                r = np.zeros(n)
                r[e], r[d] = 1.0, -1.0
                rows.append(r)
        else:
            r = np.zeros(n)
            r[e] = 1.0
            rows.append(r)
    return np.array(rows).reshape(-1, n)


def _kkt(g: np.ndarray, A: np.ndarray, s: np.ndarray) -> bool:
    """Is g = A^T lambda + mu s for some lambda >= 0 (rows of A), mu real (within KKT_REL)?"""
    scale = max(float(np.linalg.norm(g)), 1e-300)
    for r in range(min(len(A), 2) + 1):
        for S in itertools.combinations(range(len(A)), r):
            M = np.column_stack([A[list(S)].T, s]) if S else s[:, None]
            x, *_ = np.linalg.lstsq(M, g, rcond=None)
            if np.linalg.norm(M @ x - g) <= KKT_REL * scale and np.all(x[:-1] >= -KKT_REL * scale):
                return True
    return False


def check_cell(W_p: np.ndarray, F: list[int], off: list[int], jump: bool, V: np.ndarray) -> list[str]:
    """Why the listed cell V (vertices in w, rows) is not the closed normalised cell (empty: it is); see above."""
    n_p, n = W_p.shape
    C = cell_rows(n, F, off, jump)
    Z = V @ W_p
    G = Z @ C.T                                   # row values at the vertices (<= 0 inside)
    out = []
    if G.size and np.any(G > TIGHT):
        out.append("cell vertices leave the closed cell")
    if not len(C):
        return out
    tight = np.abs(G) <= TIGHT
    if len(V) == 1:
        out.append("a one-vertex cell: its maximality is not checked")
    elif n_p == 2:
        if not all(tight[j].any() for j in range(len(V))):
            out.append("cell is not maximal (an end where none of its rows is 0)")
    elif n_p == 3 and len(V) == 2:
        s = W_p[:, F].sum(axis=1)
        B = W_p[:, F].T
        A = C @ W_p.T                             # the rows in w
        sv = np.linalg.svd(B, compute_uv=False)
        if len(sv) >= 3 and sv[2] > RANK_REL * sv[0]:
            # rank 3: a 2-vertex cell is a segment of the slice, maximal when its ends are extremes along it and
            # the cell has no width across it (both directions across are bounded at an end)
            d = V[1] - V[0]
            p = np.cross(s, d)
            checks = ((1, d), (0, -d), (0, p), (0, -p))
        else:
            k = np.linalg.svd(B)[2][-1]           # the kernel of the codes' map (rank 2)
            g = B.T @ (B @ np.cross(s, k))        # <z_F, u>, u = B (s x k): the image line's direction
            hi, lo = (0, 1) if V[0] @ g >= V[1] @ g else (1, 0)
            checks = ((hi, g), (lo, -g))
        for j, g in checks:
            if not _kkt(g, A[tight[j]], s):
                out.append(f"cell is not maximal (its 2-vertex cell's end {j} is not an extreme of the cell)")
                break
    elif n_p == 3:
        s = W_p[:, F].sum(axis=1)
        m = len(V)
        turns = [float(np.linalg.det(np.stack([V[(j + 1) % m] - V[j], V[(j + 2) % m] - V[(j + 1) % m], s])))
                 for j in range(m)]
        fans = [float(np.linalg.det(np.stack([V[j] - V[0], V[j + 1] - V[0], s]))) for j in range(1, m - 1)]
        signs = {np.sign(t) for t in turns + fans}
        if len(signs) != 1 or 0.0 in signs:
            out.append("cell vertices are not a convex polygon traversed once")
        live = ~tight.all(axis=0)                 # rows not 0 on the whole polygon
        for j in range(m):
            if not np.any(tight[j] & tight[(j + 1) % m] & live):
                out.append(f"cell is not maximal (its edge {j}-{(j + 1) % m} lies on none of its rows)")
                break
    else:
        out.append(f"n_p = {n_p}: the cell's maximality is not checked")
    return out
