"""The checker's exact-rank subspace bound (sdlscape/certcheck/span.py) and its one-ray fixed rows.

Regression: two committed certificates failed the checker because a float SVD turned an exact linear
dependency of the code rows (two latents' images that meet) into a ~1e-17 singular direction, and the
Ky Fan bound over that extra direction was useless. The rank is now decided exactly; the bound must still
enclose the true top-d sum and reject a claim it cannot prove.
"""
import copy
import gzip
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from sdlscape.certcheck import check
from sdlscape.certcheck.intervals import Iv
from sdlscape.certcheck.span import Generators, independent_rows, kyfan_on_span, kyfan_upper

RESULTS = Path(__file__).resolve().parents[2] / "results" / "landscape" / "issue28"


def test_exact_rank_sees_a_dependency_that_floats_blur():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=5), rng.normal(size=5)
    c = [Fraction(float(x)) + Fraction(float(y)) for x, y in zip(a, b)]       # exactly a + b
    rows = [[Fraction(float(x)) for x in a], [Fraction(float(x)) for x in b], c]
    assert independent_rows(rows) == [0, 1]
    rows[2][0] += Fraction(1, 2 ** 80)                                         # a 1e-24 change: independent
    assert independent_rows(rows) == [0, 1, 2]


@pytest.mark.parametrize("seed", range(4))
def test_kyfan_upper_encloses_the_top_eigenvalues(seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(5, 3))
    K = A @ A.T                                                               # PSD, rank 3
    lam = np.sort(np.linalg.eigvalsh(K))[::-1]
    for d in range(1, 6):
        ub = kyfan_upper(Iv(K), d)
        assert lam[:d].sum() - 1e-12 <= ub <= lam[:d].sum() + 1e-9 * lam.sum()


def test_kyfan_on_span_is_the_top_eigenvalues_of_G_on_the_span():
    rng = np.random.default_rng(1)
    R = rng.normal(size=(3, 6))
    G = R.T @ R
    Z = rng.normal(size=(4, 6))
    Q, _ = np.linalg.qr(Z.T)
    lam = np.sort(np.linalg.eigvalsh(Q.T @ G @ Q))[::-1]
    for d in (1, 2, 4):
        ub = kyfan_on_span(Iv(G), Iv(Z), 0, d, cap=np.inf)
        assert lam[:d].sum() - 1e-12 <= ub <= lam[:d].sum() + 1e-9
    # f0 = 2: the first two rows' span is always in, then the top-1 on the rest
    Q0, _ = np.linalg.qr(Z[:2].T)
    P = np.eye(6) - Q0 @ Q0.T
    rest = np.linalg.qr(P @ Z[2:].T)[0]
    want = np.trace(Q0.T @ G @ Q0) + np.sort(np.linalg.eigvalsh(rest.T @ G @ rest))[-1]
    ub = kyfan_on_span(Iv(G), Iv(Z), 2, 1, cap=np.inf)
    assert want - 1e-12 <= ub <= want + 1e-9


def test_a_noise_direction_does_not_enter_the_basis():
    """Codes on feature sets [0,2,3] and [0,1,2,3] of a 2 x 5 W_p: their images meet in a line, so four vertex
    codes span 3 dimensions exactly, although a float SVD shows a fourth singular value of rounding size."""
    rng = np.random.default_rng(3)
    W_p = rng.normal(size=(2, 5))
    g = Generators(W_p, np.ones(5), Iv(np.ones(5)))
    for F in ([0, 2, 3], [0, 1, 2, 3]):
        for w in rng.normal(size=(2, 2)):
            g.add_code(w, F)
    Z = g.basis()
    assert Z is not None and Z.lo.shape[0] == 3


def _sub_certificate(name, patterns):
    cert = json.loads(gzip.decompress((RESULTS / f"{name}.cert.json.gz").read_bytes()))
    pieces = [p for p in cert["pieces"] if p["pattern"] in patterns]
    assert len(pieces) == len(patterns)
    return {**cert, "mode": "piece", "pieces": pieces, "certified": False, "minimiser": None,   # a few pieces: no coverage
            "lower_bound": min(p["lower_bound"] for p in pieces)}


def test_the_leaves_that_failed_the_committed_certificates_now_verify():
    """transcoder_n5_nr2_s0: a leaf of a nested piece (images that meet); relu_n4_antipodal: pieces with a fixed
    one-ray cell (a latent on the line orthogonal to an antipodal pair), whose float row is off the ray."""
    v = check(_sub_certificate("transcoder_n5_nr2_s0", [[[0, 2, 3], [0, 1, 2, 3]]]))
    assert v.valid, v.failures[:2]
    v = check(_sub_certificate("relu_n4_antipodal", [[[2, 3], [1, 2, 3]], [[2, 3], [2, 3]], [[], [2, 3]]]))
    assert v.valid, v.failures[:2]
    assert sum("one-ray cell" in n for n in v.notes) == 3


def test_a_lower_bound_beyond_the_exact_bound_is_still_caught():
    """[[2,3],[1,2,3]] of the antipodal instance: phi <= tr G on coordinates {1,2,3} = 3 exactly, so L~ >= 1;
    the certificate claims 1 - 4e-9. A claim of 1 + 1e-9 is not provable and must fail."""
    cert = _sub_certificate("relu_n4_antipodal", [[[2, 3], [1, 2, 3]]])
    assert check(cert).valid
    bad = copy.deepcopy(cert)
    bad["pieces"][0]["lower_bound"] = 1.0 + 1e-9
    bad["lower_bound"] = 1.0 + 1e-9
    v = check(bad)
    assert not v.valid and any("below the piece's claimed lower bound" in f for f in v.failures)


def test_a_fixed_latent_left_out_is_caught():
    cert = _sub_certificate("relu_n4_antipodal", [[[2, 3], [1, 2, 3]]])
    bad = copy.deepcopy(cert)
    bad["pieces"][0]["record"]["fixed"] = []
    v = check(bad)
    assert not v.valid and any("each latent once" in f for f in v.failures)


def test_a_one_ray_row_comes_from_the_cell_not_from_the_file():
    """The fixed latent of [[2,3],[1,2,3]] lies on an exact ray (its cell is cut by an antipodal pair): the
    checker derives the ray itself, so a fixed row turned elsewhere in the file changes no bound."""
    cert = _sub_certificate("relu_n4_antipodal", [[[2, 3], [1, 2, 3]]])
    moved = copy.deepcopy(cert)
    moved["pieces"][0]["record"]["fixed"][0]["w"] = [1.0, 0.5]
    assert check(cert).valid and check(moved).valid


def test_the_basis_keeps_the_first_block_and_is_orthonormal():
    """Z's first f0 rows must span the fixed part exactly; ill-conditioned generators (two features 1e-7 rad
    apart) come out as an orthonormal basis of the same span (exact Gram-Schmidt)."""
    W_p = np.array([[1.0, np.cos(1e-7), 0.3], [0.0, np.sin(1e-7), 0.8]])
    g = Generators(W_p, np.ones(3), Iv(np.ones(3)))
    g.add_image([1])                 # first block: the line of feature 1
    g.add_image([0, 1])              # then the plane of features 0, 1
    Z = g.basis(split=2)
    mid = 0.5 * (Z.lo + Z.hi)
    assert mid.shape == (2, 3) and np.allclose(np.abs(mid[0]), [0, 1, 0]) and np.allclose(np.abs(mid[1]), [1, 0, 0])
    assert np.allclose(mid @ mid.T, np.eye(2), atol=1e-15) and (Z.hi - Z.lo).max() < 1e-15
