"""TopK o ReLU cells in certificate files (the checker's closed-cell test, sdlscape.certcheck.off_features).

The certifier's cell of a free latent keeps only its own rows (reduce._latent_rows): its codes >= 0 on its features
and <= 0 where fewer than k latents fire; the ordering rows between latents are relaxed. A silent latent's code on
a feature that k latents fire on may be positive in the region itself, so the checker's old ReLU test (every
other code <= 0) refused valid certificates (random_unit(5, 2, topk_relu k = 1, 3 latents, seed 0): 20 failures,
"cell vertices leave the closed cell"). The exact (fractions) checks below show that the region has such points
and that the recorded cells hold every sampled row direction of the region; the mutants show that the checker
still refuses a cell past one of its own rows and a cell cut short at a ranking feature's zero.
"""
import copy
import json
from fractions import Fraction

import numpy as np
import pytest

from sdlscape.certcheck import check
from sdlscape.cli import main
from sdlscape.theory.activations.topk import TopKReLU
from sdlscape.theory.families import random_unit
from sdlscape.theory.instance import save_instance

FULL = "[[1],[0,2],[3,4]]"        # the minimiser's piece: every feature is fired by one latent (k = 1)
EMPTY = "[[],[0,2],[3,4]]"        # feature 1 is fired by no latent: every code on it is <= 0


def _certify(folder, pattern):
    inst = folder / "tkr.json"
    save_instance(random_unit(5, 2, TopKReLU(k=1), n_latents=3, seed=0), inst)
    out = folder / "tkr.cert.json"
    assert main(["certify", str(inst), "--pattern", pattern, "--node-limit", "20000", "--certificate", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def _certificates(tmp_path_factory):
    return {p: _certify(tmp_path_factory.mktemp("tkr"), p) for p in (FULL, EMPTY)}


@pytest.fixture
def full(_certificates):
    return copy.deepcopy(_certificates[FULL])


@pytest.fixture
def empty(_certificates):
    return copy.deepcopy(_certificates[EMPTY])


def _exact_codes(W_E, W_p) -> list[list[Fraction]]:
    return [[sum((Fraction(float(w[r])) * Fraction(float(W_p[r][d])) for r in range(len(w))), Fraction(0))
             for d in range(len(W_p[0]))] for w in W_E]


def _fires(Z: list[list[Fraction]]) -> list[list[int]] | None:
    """TopK o ReLU with k = 1 in exact arithmetic: the largest positive code of each column, if strictly largest."""
    out = [[] for _ in Z]
    for d in range(len(Z[0])):
        col = sorted(((z[d], i) for i, z in enumerate(Z)), reverse=True)
        if col[0][0] > 0:
            if col[0][0] == col[1][0]:
                return None
            out[col[0][1]].append(d)
    return out


def test_the_certificates_are_valid(full, empty):
    for cert in (full, empty):
        assert cert["certified"]
        v = check(cert)
        assert v.valid, v.failures


def test_the_region_has_positive_codes_off_a_latents_features(full):
    """The certified minimiser reads back its pattern exactly and a silent latent's code there is positive."""
    W_p = full["instance"]["W_p"]
    mn = full["minimiser"]
    Z = _exact_codes(mn["W_E"], W_p)
    assert _fires(Z) == mn["pattern"] == json.loads(FULL)
    positive_off = [(i, d) for i, F in enumerate(mn["pattern"]) for d in range(len(W_p[0])) if d not in F and Z[i][d] > 0]
    assert positive_off, "no positive code off a latent's features at the minimiser"


def _on_segment(u, V) -> bool:
    """Is u (normalised) on the segment V[0]-V[1], within float rounding of the vertices?"""
    d = V[1] - V[0]
    t = float(np.dot(u - V[0], d) / np.dot(d, d))
    return -1e-9 <= t <= 1 + 1e-9 and np.linalg.norm(u - (V[0] + t * d)) <= 1e-9 * max(1.0, np.linalg.norm(u))


@pytest.mark.parametrize("which", [FULL, EMPTY])
def test_the_cells_hold_every_sampled_row_of_the_region(which, _certificates):
    """Rows of random encoders that read back the pattern (exactly) lie in their latent's recorded cell: the cells
    are not too small (soundness of the bound), and some such rows have a positive code off their features."""
    cert = _certificates[which]
    W_p = np.asarray(cert["instance"]["W_p"], dtype=float)
    pattern = json.loads(which)
    free = cert["pieces"][0]["record"]["free"]
    rng = np.random.default_rng(0)
    hits = positive_off = 0
    for _ in range(6000):
        W = rng.normal(size=(3, 2))
        Z = _exact_codes(W, W_p.tolist())
        if _fires(Z) != pattern:
            continue
        hits += 1
        for f in free:
            i, F = f["latent"], pattern[f["latent"]]
            u = W[i] / float(W[i] @ W_p[:, F].sum(axis=1))
            assert _on_segment(u, np.asarray(f["cell"], dtype=float)), (i, W[i].tolist())
            positive_off += any(Z[i][d] > 0 for d in range(W_p.shape[1]) if d not in F)
    assert hits >= 20 and positive_off > 0, (hits, positive_off)


def _point_where(cell, W_p, d):
    """The point of the line through the cell's two vertices where latent's code on feature d is 0."""
    V = np.asarray(cell, dtype=float)
    z0, z1 = V[0] @ W_p[:, d], V[1] @ W_p[:, d]
    return V[0] + z0 / (z0 - z1) * (V[1] - V[0]), z0, z1


def test_a_cell_cut_at_a_ranking_features_zero_is_not_maximal(full):
    """Latent 1 of [[1],[0,2],[3,4]]: its code on feature 1 (fired by latent 0) changes sign inside the cell; an end
    moved to that zero is no end of the cell (ranking rows are relaxed), though it has a zero code."""
    W_p = np.asarray(full["instance"]["W_p"], dtype=float)
    rec = full["pieces"][0]["record"]
    f = next(f for f in rec["free"] if f["latent"] == 1)
    p, z0, z1 = _point_where(f["cell"], W_p, 1)
    assert z0 * z1 < 0
    j = 0 if z0 > 0 else 1                         # replace the end where the code on feature 1 is positive
    f["cell"][j] = p.tolist()
    v = check(full)
    assert not v.valid
    assert any("latent 1's cell is not maximal" in m for m in v.failures), v.failures


def test_a_cell_past_its_own_row_is_caught(empty):
    """Latent 1 of [[],[0,2],[3,4]]: feature 1 fires on no latent, so latent 1's code there must be <= 0 (TopK o
    ReLU fires every positive code of such a column); an end pushed past that row leaves the closed cell."""
    W_p = np.asarray(empty["instance"]["W_p"], dtype=float)
    rec = empty["pieces"][0]["record"]
    f = next(f for f in rec["free"] if f["latent"] == 1)
    V = np.asarray(f["cell"], dtype=float)
    z = V @ W_p[:, 1]
    j = int(np.argmax(z))
    assert abs(z[j]) <= 1e-9                        # the cell ends on that row
    f["cell"][j] = (V[j] + 0.05 * (V[j] - V[1 - j])).tolist()
    assert f["cell"][j] @ W_p[:, 1] > 1e-9
    v = check(empty)
    assert not v.valid
    assert any("latent 1's cell vertices leave the closed cell" in m for m in v.failures), v.failures


def test_a_cell_past_a_features_zero_is_caught(full):
    """An end pushed past the zero of one of the latent's own codes (code < 0 on its feature set) is refused."""
    W_p = np.asarray(full["instance"]["W_p"], dtype=float)
    rec = full["pieces"][0]["record"]
    f = next(f for f in rec["free"] if f["latent"] == 2)
    V = np.asarray(f["cell"], dtype=float)
    f["cell"][0] = (V[0] + 0.05 * (V[0] - V[1])).tolist()
    f["cell"][0] = (np.asarray(f["cell"][0]) / (np.asarray(f["cell"][0]) @ W_p[:, [3, 4]].sum(axis=1))).tolist()
    v = check(full)
    assert not v.valid
    assert any("latent 2's cell vertices leave the closed cell" in m for m in v.failures), v.failures
