"""Free latents' cells in certificate files (sdlscape.certcheck.cells): inside the closed cell and all of it.

n_p = 3 (a committed ReLU certificate's piece, alone): a polygon shrunk towards its centre, and a rank-2 segment
shrunk, each together with the root simplices built on it (so the roots still cover the cell by measure and every
leaf still proves its bound), pass every other check and fail only on maximality.
JumpReLU (pieces certified with the CLI, n_p = 2 and 3): the cells are the direction cones z_d > 0, z_e < z_d
(d in F, e not in F; theta cancels), whose vertices can have positive codes off F (the ReLU rule would refuse
them); a vertex pushed past one of those rows leaves the closed cell, a shrunk cell is not maximal.
"""
import copy
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from sdlscape.certcheck import check
from sdlscape.certcheck.cells import check_cell
from sdlscape.cli import main
from sdlscape.theory.activations.registry import JumpReLU
from sdlscape.theory.families import random_unit
from sdlscape.theory.instance import save_instance

ROOT = Path(__file__).resolve().parents[2] / "results" / "landscape" / "issue28"
NP3_PIECE = [[1, 4], [0, 2, 3, 4]]       # relu_n5_np3_q2_s0: a rank-2 segment (latent 0) and a quadrilateral (latent 1)


def _alone(cert: dict, pattern) -> dict:
    """One piece of a global certificate as a piece-mode certificate (its own lower bound, no minimiser)."""
    p = next(p for p in cert["pieces"] if p["pattern"] == pattern)
    return {**cert, "mode": "piece", "pieces": [copy.deepcopy(p)], "lower_bound": p["lower_bound"],
            "certified": False, "minimiser": None}


def _shrink(cert: dict, latent: int, alpha: float) -> None:
    """Shrink the latent's cell towards its centre by alpha, and every root simplex of it alike (an affine map of the
    slice: normalisation, measures' ratio and the leaves' replay are kept). The leaves' claimed bounds are raised by
    1 (weaker claims: the shrunk leaves are not the certified ones, and the consistency test compares the checker's
    bound with the claim); the piece's lower bound still rests on the checker's own bounds."""
    rec = cert["pieces"][0]["record"]
    for leaf in rec["leaves"]:
        leaf["bound"] = float(leaf["bound"]) + 1.0
    j = next(j for j, f in enumerate(rec["free"]) if f["latent"] == latent)
    c = np.asarray(rec["free"][j]["cell"], dtype=float).mean(axis=0)

    def f(W):
        return (c + alpha * (np.asarray(W, dtype=float) - c)).tolist()

    rec["free"][j]["cell"] = f(rec["free"][j]["cell"])
    for node in rec["roots"]:
        for part in node:
            assert part["kind"] == "simplex"
            if part["row"] == j:
                part["W"] = f(part["W"])


@pytest.fixture(scope="module")
def np3_piece():
    cert = json.loads(gzip.decompress((ROOT / "relu_n5_np3_q2_s0.cert.json.gz").read_bytes()).decode())
    return _alone(cert, NP3_PIECE)


def test_the_committed_np3_piece_is_valid_alone(np3_piece):
    cells = [len(f["cell"]) for f in np3_piece["pieces"][0]["record"]["free"]]
    assert cells == [2, 4]
    v = check(copy.deepcopy(np3_piece))
    assert v.valid, v.failures
    assert not any("not checked" in n for n in v.notes), v.notes


@pytest.mark.parametrize("latent, alpha", [(1, 0.9), (1, 0.999), (0, 0.9), (0, 0.999)])
def test_a_shrunk_np3_cell_is_not_maximal(np3_piece, latent, alpha):
    """Only the maximality check fails: the roots still cover the shrunk cell and every leaf proves its bound."""
    cert = copy.deepcopy(np3_piece)
    _shrink(cert, latent, alpha)
    v = check(cert)
    assert not v.valid
    assert v.failures and all(f"latent {latent}'s cell is not maximal" in m for m in v.failures), v.failures


def test_a_polygon_with_a_vertex_dropped_is_not_maximal(np3_piece):
    """The quadrilateral without one vertex (a triangle, roots rebuilt as its fan): an edge is a chord."""
    cert = copy.deepcopy(np3_piece)
    rec = cert["pieces"][0]["record"]
    V = rec["free"][1]["cell"][:3]
    rec["free"][1]["cell"] = V
    rec["roots"] = [[p if p["row"] != 1 else {**p, "W": V} for p in rec["roots"][0]]]
    rec["leaves"] = [leaf for leaf in rec["leaves"] if leaf["root"] == 0]
    v = check(cert)
    assert not v.valid
    assert any("latent 1's cell is not maximal (its edge 2-0" in m for m in v.failures), v.failures


def test_a_polygon_out_of_order_is_refused(np3_piece):
    cert = copy.deepcopy(np3_piece)
    V = cert["pieces"][0]["record"]["free"][1]["cell"]
    V[1], V[2] = V[2], V[1]
    v = check(cert)
    assert any("latent 1's cell vertices are not a convex polygon traversed once" in m for m in v.failures)


# -- JumpReLU ---------------------------------------------------------------------------------------

JUMP = {3: "[[0,1,2],[1,2,3]]", 2: "[[0,2],[1,2,3]]"}      # n_p = 3: two pentagons
JUMP_RANK2 = "[[1,2],[0,1,3]]"                            # n_p = 3: a rank-2 segment (latent 0) and a quadrilateral


def _certify_jump(folder: Path, n_p: int, pattern: str) -> dict:
    inst = folder / f"jr{n_p}.json"
    save_instance(random_unit(4, n_p, JumpReLU(theta=0.3), n_latents=2, seed=0), inst)
    out = folder / f"jr{n_p}.cert.json"
    assert main(["certify", str(inst), "--pattern", pattern, "--node-limit", "40", "--certificate", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def _jump(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jump")
    return {"np3": _certify_jump(folder, 3, JUMP[3]), "np2": _certify_jump(folder, 2, JUMP[2]),
            "rank2": _certify_jump(folder, 3, JUMP_RANK2)}


@pytest.fixture(params=["np3", "np2", "rank2"])
def jump(request, _jump):
    return copy.deepcopy(_jump[request.param])


def test_jumprelu_cells_are_checked_and_valid(jump):
    assert jump["instance"]["activation"]["name"] == "jumprelu"
    v = check(copy.deepcopy(jump))
    assert v.valid, v.failures
    assert not any("not checked" in n or "threshold" in n for n in v.notes), v.notes


def test_jumprelu_cells_have_positive_codes_off_their_features(_jump):
    """The direction cone allows z_e > 0 (e not in F) below the latent's least code on F: the ReLU rows would refuse
    these cells, the jump rows accept them."""
    seen = 0
    for cert in _jump.values():
        W_p = np.asarray(cert["instance"]["W_p"], dtype=float)
        piece = cert["pieces"][0]
        for f in piece["record"]["free"]:
            F = piece["pattern"][f["latent"]]
            off = [e for e in range(W_p.shape[1]) if e not in F]
            V = np.asarray(f["cell"], dtype=float)
            assert check_cell(W_p, F, [], True, V) == []
            if np.any(V @ W_p[:, off] > 1e-6):
                seen += 1
                assert "cell vertices leave the closed cell" in check_cell(W_p, F, off, False, V)
    assert seen >= 2


def test_a_jumprelu_vertex_past_its_cell_is_caught(jump):
    """Push each cell's first vertex outwards (away from the cell's centre, renormalised): it leaves the closed cell."""
    W_p = np.asarray(jump["instance"]["W_p"], dtype=float)
    piece = jump["pieces"][0]
    f = piece["record"]["free"][-1]
    F = piece["pattern"][f["latent"]]
    V = np.asarray(f["cell"], dtype=float)
    w = V[0] + 0.05 * (V[0] - V.mean(axis=0))
    f["cell"][0] = (w / (w @ W_p[:, F].sum(axis=1))).tolist()
    v = check(jump)
    assert not v.valid
    assert any(f"latent {f['latent']}'s cell vertices leave the closed cell" in m for m in v.failures), v.failures


@pytest.mark.parametrize("alpha", [0.9, 0.999])
def test_a_shrunk_jumprelu_cell_is_not_maximal(jump, alpha):
    latent = jump["pieces"][0]["record"]["free"][-1]["latent"]
    _shrink(jump, latent, alpha)
    v = check(jump)
    assert not v.valid
    assert v.failures and all(f"latent {latent}'s cell is not maximal" in m for m in v.failures), v.failures
