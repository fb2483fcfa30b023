"""What a certificate file holds for one piece (`certify --certificate`; checked by sdlscape.certcheck).

Everything is in the *unreduced* code space, so that the checker needs neither the reduction nor the
branch and bound: the fixed latents' encoder rows, each free latent's normalised cell (its vertices),
the root nodes (chart parts: simplices of encoder rows, or blow-up charts), and every closed node as its
root and split path, with the bound the certifier claims for it on phi(B) = tr(G Pi(B)) over the full
code matrix (fixed rows included). The piece's lower bound is ||R||^2 minus the largest leaf bound.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from sdlscape.solvers.certify.reduce import ReducedPiece

FORMAT = "sdlscape-certificate/1"


def piece_record(red: ReducedPiece, roots, leaves, phi_fixed_upper: float) -> dict[str, Any]:
    """roots: tuples of chart parts; leaves: (root, path, bound on phi_free); phi_fixed_upper: phi0 + its
    rounding allowance (added to every leaf bound: the claimed bound on the full phi)."""
    return {"fixed": [{"latent": int(i), "w": np.asarray(w, dtype=float).tolist()}
                      for i, w in sorted(red.fixed_rows.items())],
            "free": [{"latent": int(c.latent), "cell": c.vertices.tolist()} for c in red.free],
            "roots": [[p.to_json() for p in node] for node in roots],
            "leaves": [{"root": int(r), "path": [list(map(int, step)) for step in path],
                        "bound": float(phi_fixed_upper + b)} for r, path, b in leaves]}


def pruned_record(red: ReducedPiece, phi_upper_full: float) -> dict[str, Any]:
    """A piece pruned on its root bound alone: every root node is a leaf with the piece's root bound."""
    from sdlscape.solvers.certify.charts import root_nodes

    roots = root_nodes(red)[0] if red.k else [()]
    return piece_record(red, roots, [(r, (), 0.0) for r in range(len(roots))], phi_upper_full)
