"""The three-row chart checker's decision rules one by one (certcheck/three_chart.py), written against the
survivors of a mutation run: the exact 3x3 determinant and the Pluecker polynomial it builds, the float
enclosure of a rational, every op's substitution (the "divide" of a face included) and its refusals, the
replay of a leaf's path, the cover rule, the end codes' zero snapping and parallel copies, the leaf bound's
interval ratio, and check_three_piece's refusals, comparisons and counters on corrupted certificates."""
import copy
import itertools
import json
import random
import re
from fractions import Fraction

import numpy as np
import pytest
from mpmath import iv

from sdlscape.certcheck import CONSISTENCY, Verdict, _complete, check
from sdlscape.certcheck import three_chart as tc
from sdlscape.certcheck.intervals import Iv
from sdlscape.certcheck.leaf import Data
from sdlscape.cli import main

KEYS = list(itertools.product((0, 1), repeat=3))


ANTIPODAL = {"W_p": [[0.2285060858917519, -0.2285060858917519, 0.4408269233793889, 0.1100882804028193],
                     [-0.9735424842863465, 0.9735424842863465, 0.8975921254243836, 0.9939218130808631]],
             "M": [1.0, 1.0, 1.0, 1.0], "activation": {"name": "relu"}, "n_latents": 3, "name": "antipodal-n4-q3"}


@pytest.fixture(scope="module")
def ray_cert(tmp_path_factory):
    """results/landscape/issue28's antipodal instance (features 0 and 1 exactly antiparallel) with three latents:
    [[2,3],[0,2],[1,3]] is a three-row chart whose fixed latent 0 lies on a one-ray cell (ReLU)."""
    d = tmp_path_factory.mktemp("ray")
    (d / "inst.json").write_text(json.dumps(ANTIPODAL))
    out = d / "cert.json"
    assert main(["certify", str(d / "inst.json"), "--pattern", "[[2,3],[0,2],[1,3]]", "--rtol", "1e-5",
                 "--node-limit", "300", "--certificate", str(out)]) == 0
    return json.loads(out.read_text())


# -- exact algebra -----------------------------------------------------------------------------------

def _leibniz(M):
    out = Fraction(0)
    for p in itertools.permutations(range(3)):
        sign = (-1) ** sum(1 for i in range(3) for j in range(i + 1, 3) if p[i] > p[j])
        out += sign * M[0][p[0]] * M[1][p[1]] * M[2][p[2]]
    return out


def test_det3_is_the_exact_determinant():
    rng = random.Random(1)
    for _ in range(200):
        M = [[Fraction(rng.randint(-9, 9), rng.randint(1, 5)) for _ in range(3)] for _ in range(3)]
        assert tc._det3(*M) == _leibniz(M)
    A = np.array([[2, -1, 3], [0, 4, 5], [1, 7, -2]])
    assert tc._det3(*A.tolist()) == round(np.linalg.det(A)) == -103


def _rand_poly(rng, N, zero=()):
    """A multilinear polynomial in the checker's representation: {exponent triple: N-tuple of Fractions}."""
    return {e: tuple(Fraction(0) if e in zero else Fraction(rng.randint(-7, 7), rng.randint(1, 4))
                     for _ in range(N)) for e in KEYS}


def _ev(poly, y):
    return tc._value(poly, y)


def test_value_is_the_sum_of_the_monomials():
    rng = random.Random(2)
    for _ in range(30):
        poly = _rand_poly(rng, 2)
        y = [Fraction(rng.randint(-5, 5), rng.randint(1, 3)) for _ in range(3)]
        want = [sum(v[k] * np.prod([y[i] if e[i] else Fraction(1) for i in range(3)]) for e, v in poly.items())
                for k in range(2)]
        assert _ev(poly, y) == want
    assert _ev({e: (Fraction(1),) for e in KEYS}, [Fraction(1)] * 3) == [8]


def test_wedge_poly_is_the_pluecker_vector_of_the_segments():
    """w(y) = the 3x3 minors of the rows p_i + y_i (q_i - p_i), exactly, with the 8 exponent triples as keys."""
    rng = np.random.default_rng(3)
    ends = [rng.integers(-5, 6, size=(2, 4)).astype(float) / 4 for _ in range(3)]
    poly = tc.wedge_poly(ends)
    assert sorted(poly) == KEYS
    for y in ([Fraction(1, 3), Fraction(-2), Fraction(5, 7)], [Fraction(1)] * 3, [Fraction(0)] * 3):
        rows = [[Fraction(E[0][c]) + y[i] * (Fraction(E[1][c]) - Fraction(E[0][c])) for c in range(4)]
                for i, E in enumerate(ends)]
        want = [_leibniz([[r[c] for c in cols] for r in rows]) for cols in itertools.combinations(range(4), 3)]
        assert _ev(poly, y) == want


def test_enclose_brackets_the_rational_by_neighbouring_floats():
    for q in (Fraction(1, 3), Fraction(-2, 7), Fraction(10 ** 20 + 1, 3), Fraction(1, 2), Fraction(0), Fraction(-5)):
        lo, hi = tc._enclose(q)
        assert Fraction(lo) < q < Fraction(hi)
        f = float(q)
        assert lo == np.nextafter(f, -np.inf) and hi == np.nextafter(f, np.inf)      # two ulps at most


# -- the ops -----------------------------------------------------------------------------------------

YS = [[Fraction(1, 3), Fraction(2, 5), Fraction(3, 7)], [Fraction(-1, 2), Fraction(5, 3), Fraction(1, 9)],
      [Fraction(1), Fraction(0), Fraction(1, 2)]]


def test_flip_half_blowup_are_their_substitutions():
    rng = random.Random(4)
    for a in range(3):
        poly = _rand_poly(rng, 2)
        for y in YS:
            fl = list(y)
            fl[a] = 1 - y[a]
            assert _ev(tc.apply_op(poly, ("flip", a)), y) == _ev(poly, fl)
            for which in (0, 1):
                h = list(y)
                h[a] = (which + y[a]) / 2
                assert _ev(tc.apply_op(poly, ("half", a, which)), y) == _ev(poly, h)
        for b in range(3):
            if b == a:
                continue
            edge = [e for e in KEYS if e[a] == 0 and e[b] == 0]
            p = _rand_poly(rng, 2, zero=edge)
            out = tc.apply_op(p, ("blowup", a, b))
            assert sorted(out) == KEYS
            for y in YS:
                if y[b] == 0:
                    continue
                s = list(y)
                s[a] = y[a] * y[b]
                assert _ev(out, y) == [x / y[b] for x in _ev(p, s)]


def test_divide_by_a_face_where_w_vanishes():
    """w = y_b * u: the op leaves u (w' y_b == w, w' free of y_b); a w that does not vanish on the face is
    refused, and so is a divide of a malformed axis."""
    rng = random.Random(5)
    for b in range(3):
        face = [e for e in KEYS if e[b] == 0]
        w = _rand_poly(rng, 3, zero=face)
        out = tc.apply_op(w, ("divide", b))
        assert sorted(out) == KEYS
        assert all(all(x == 0 for x in v) for e, v in out.items() if e[b] == 1)        # no y_b left
        for y in YS:
            assert [x * y[b] for x in _ev(out, y)] == _ev(w, y)
        assert tc.covers([(("divide", b),)])
        for e in face:                               # one nonzero coefficient on the face: refused
            bad = dict(w)
            bad[e] = (Fraction(0), Fraction(1, 3), Fraction(0))
            with pytest.raises(ValueError) as exc:
                tc.apply_op(bad, ("divide", b))
            assert str(exc.value) == "divide: w does not vanish on the face"


def _malformed(poly, op):
    with pytest.raises(ValueError) as exc:
        tc.apply_op(poly, op)
    assert str(exc.value) == f"malformed op {op!r}"


def test_malformed_ops_are_refused():
    poly = _rand_poly(random.Random(6), 1, zero=KEYS)          # the zero polynomial: every precondition holds
    for op in (("rotate", 0), ("flip",), ("flip", 0, 1), ("half", 0), ("half", 0, 1, 0), ("divide", 0, 1),
               ("blowup", 0), ("flip", 3), ("flip", -1), ("flip", 1.0), ("divide", 3), ("divide", -1),
               ("half", 3, 0), ("half", 0, 2), ("half", 0, -1), ("half", 0, 1.0),
               ("blowup", 0, 0), ("blowup", 2, 2), ("blowup", 0, 3), ("blowup", 3, 0), ("blowup", 0, -1),
               ("blowup", 0, 1.0)):
        _malformed(poly, op)
    for op in (("flip", 2), ("half", 2, 1), ("divide", 2), ("blowup", 2, 0), ("blowup", 0, 2)):
        tc.apply_op(poly, op)                        # the well-formed ones pass


def test_a_blow_up_of_an_edge_where_w_does_not_vanish_is_refused():
    poly = _rand_poly(random.Random(7), 1, zero=[e for e in KEYS if e[0] == e[1] == 0])
    poly[(0, 0, 1)] = (Fraction(1, 5),)
    with pytest.raises(ValueError) as exc:
        tc.apply_op(poly, ("blowup", 0, 1))
    assert str(exc.value) == "blowup: w does not vanish on the edge"


def test_box_of_replays_the_bisections_exactly():
    assert tc.box_of([]) == ((0, 1), (0, 1), (0, 1))
    path = [[0, 0, -1, 1], [0, 0, -1, 0], [0, 2, -1, 1], [0, 0, -1, 1]]
    assert tc.box_of(path) == ((Fraction(5, 8), Fraction(3, 4)), (0, 1), (Fraction(1, 2), 1))
    rng = random.Random(8)
    for _ in range(20):
        p = [[0, rng.randrange(3), -1, rng.randrange(2)] for _ in range(rng.randrange(1, 12))]
        box = tc.box_of(p)
        assert len(box) == 3 and np.prod([hi - lo for lo, hi in box]) == Fraction(1, 2 ** len(p))
    for step in ([1, 0, -1, 0], [0, 0, 0, 0], [0, 0, -2, 1], [0, 3, -1, 0], [0, -1, -1, 0], [0, 0, -1, 2],
                 [0, 1, -1, -1]):
        with pytest.raises(ValueError) as exc:
            tc.box_of([[0, 1, -1, 0], step])
        assert str(exc.value) == f"malformed step {step!r}"


def test_cover_rule_refusals():
    h0, h1 = ("half", 0, 0), ("half", 0, 1)
    assert tc.covers([(h0,), (h1,)])
    assert tc.covers([(("divide", 1), h0), (("divide", 1), h1)])
    assert not tc.covers([(), (h0,)])                       # a root and a half of it: not a partition
    assert not tc.covers([(), ()])
    assert not tc.covers([(h0,), (("half", 1, 1),)])        # halves of different axes
    assert not tc.covers([(("blowup", 0, 1),), (h0,)])      # a blow-up chart is no half
    assert not tc.covers([(("Blowup", 1, 0),), (("blowup", 0, 1),)])    # an unknown op (sorted first) is no chart
    assert not tc.covers([(("divide", 0),), (("divide", 1),)])


# -- end codes ---------------------------------------------------------------------------------------

class _Codes:
    """A stand-in for the certificate data: vertex v = (lo, hi) of its code interval."""

    def code(self, v, F):
        assert isinstance(v, np.ndarray) and v.dtype == float
        m = len(v) // 2
        return Iv(v[:m], v[m:])


def _cell(*ends):
    return np.array([np.concatenate([e, e]) if len(e) == 4 else e for e in ends], dtype=float)


def test_end_codes_are_the_midpoints_with_tiny_entries_snapped_to_zero():
    lo = np.array([1.0, 2.0, 4.0, 1e-13])
    hi = np.array([3.0, 2.0, 4.0, 3e-13])
    out = tc.end_codes(_Codes(), [_cell(np.concatenate([lo, hi]), [0.0, 5.0, 0.0, 0.0])], [[0]])
    assert np.array_equal(out[0][0], [2.0, 2.0, 4.0, 0.0]) and np.array_equal(out[0][1], [0.0, 5.0, 0.0, 0.0])
    # the snap threshold is ZERO_REL * the largest |midpoint|, inclusive
    edge = tc.ZERO_REL * 4.0
    for tiny, snapped in ((edge, True), (edge * (1 + 1e-9), False), (2 * edge, False), (tc.ZERO_REL * 2.0, True)):
        v = np.array([4.0, -1.0, tiny, 0.0])
        got = tc.end_codes(_Codes(), [_cell(v, v)], [[0]])[0][0]
        assert (got[2] == 0.0) == snapped, tiny


def test_end_codes_copy_a_parallel_end_of_an_earlier_row():
    x = np.array([0.0, 3.0, 4.0, 0.0])                 # |x| = 5
    u = np.array([0.0, 0.0, 1.0, 0.0])                 # |u| = 1
    z = np.array([1.0, 0.0, 0.0, 0.0])
    cases = [(x, 0.5 * x * (1 + 1e-12)), (x, x * (1 + 1e-13) + 1e-11 * z), (u, 3 * u), (2 * u, u),
             (0.01 * x, 0.02 * x)]
    for row0_end in (0, 1):
        for row1_end in (0, 1):
            for a, b in cases:
                ends0 = [a, z] if row0_end == 0 else [z, a]
                ends1 = [b, -z] if row1_end == 0 else [-z, b]
                out = tc.end_codes(_Codes(), [_cell(*ends0), _cell(*ends1)], [[0], [0]])
                assert np.array_equal(out[1][row1_end], a), (a, b, row0_end, row1_end)
    for a, b in ((x, -x), (x, -2 * x), (x, x + 1e-6 * z), (u, z), (np.zeros(4), x), (x, np.zeros(4))):
        q = np.array([0.0, 0.0, 0.0, 1.0])
        out = tc.end_codes(_Codes(), [_cell(a, q), _cell(b, -z)], [[0], [0]])
        assert np.array_equal(out[1][0], b), (a, b)                       # antiparallel, apart, zero: kept


# -- the leaf bound ----------------------------------------------------------------------------------

def _exact_ratio(poly, box, K):
    rows = [_ev(poly, list(y)) for y in itertools.product(*box)]
    Kf = [[Fraction(float(x)) for x in r] for r in K]
    best = None
    for wc in rows:
        for wd in rows:
            ki = sum(a * b for a, b in zip(wc, wd))
            ka = sum(wc[i] * Kf[i][j] * wd[j] for i in range(len(wc)) for j in range(len(wd)))
            r = ka / ki
            best = r if best is None or r > best else best
    return best


def test_leaf_bound_encloses_the_exact_ratio():
    rng = random.Random(9)
    box = ((Fraction(1, 4), Fraction(1, 2)), (Fraction(0), Fraction(1, 8)), (Fraction(3, 8), Fraction(1, 2)))
    for K in (np.diag([2.0, 1.0, 0.5]), -np.eye(3), np.array([[1.0, 0.5, 0], [0.5, 2.0, 0], [0, 0, -1.0]]),
              np.diag([0.25, 0.125, 0.0625])):
        for _ in range(5):
            base = [Fraction(rng.randint(20, 40), 3) for _ in range(3)]
            poly = {e: tuple(base[k] if e == (0, 0, 0) else Fraction(rng.randint(-3, 3), 7) for k in range(3))
                    for e in KEYS}
            r = _exact_ratio(poly, box, K)
            b = tc.leaf_bound(poly, box, Iv(K))
            assert Fraction(b) >= r
            assert b <= float(r) + 1e-9 * max(1.0, abs(float(r)))


@pytest.mark.parametrize("a, c, k", [
    ((Fraction(1399999999999967, 1650000000000000), Fraction(-4, 3)), (Fraction(-1), Fraction(-7, 11)), 2.0),
    ((Fraction(-1), Fraction(-6, 13)), (Fraction(1199999999999987, 2600000000000000), Fraction(-1)), 2.0),
    ((Fraction(7, 3), Fraction(1)), (Fraction(1), Fraction(-1399999999999997, 600000000000000)), 0.5)])
def test_leaf_bound_encloses_a_ratio_with_cancellation(a, c, k):
    """Corner rows a and c with a.c ~ 1e-14 (w_c.w_d cancels to the last bits, the ratio ~ 1e13): the rows'
    float enclosures (both ends) and the sign rule of the quotient decide whether the bound is still above."""
    poly = {e: a if e == (0, 0, 0) else tuple(x - y for x, y in zip(c, a)) if e == (1, 0, 0)
            else (Fraction(0), Fraction(0)) for e in KEYS}
    box = ((Fraction(0), Fraction(1)),) * 3
    K = np.diag([1.0, k])
    r = _exact_ratio(poly, box, K)
    assert 1e13 < r < 1e15
    b = tc.leaf_bound(poly, box, Iv(K))
    assert r <= Fraction(b) <= 2 * r                  # above, and not vacuous


def test_leaf_bound_is_infinite_where_the_gram_is_not_positive():
    poly = {e: (Fraction(1), Fraction(0)) if e == (0, 0, 0) else (Fraction(-2), Fraction(1)) if e == (1, 0, 0)
            else (Fraction(0), Fraction(0)) for e in KEYS}                  # rows (1, 0) and (-1, 1): w_c.w_d < 0
    assert tc.leaf_bound(poly, ((0, 1), (0, 1), (0, 1)), Iv(np.eye(2))) == np.inf


def _compound3(M):
    T = list(itertools.combinations(range(len(M)), 3))
    return [[_leibniz([[M[i][j] for j in cols] for i in rows]) for cols in T] for rows in T]


def test_wedge_operator3_is_the_derivative_of_the_third_compound():
    """K = D_G = d/dt C_3(I + t G) at t = 0 (exact: Richardson on the cubic in t), and K encloses it for an
    interval G: both ends of G's entries count."""
    rng = random.Random(10)
    m = 4
    A = [[Fraction(rng.randint(-6, 6), 2) for _ in range(m)] for _ in range(m)]
    t = Fraction(1, 1000)

    def f(s):
        return _compound3([[Fraction(int(i == j)) + s * A[i][j] for j in range(m)] for i in range(m)])

    f1, fm1, f2, fm2 = f(t), f(-t), f(2 * t), f(-2 * t)
    D = [[(4 * (f1[i][j] - fm1[i][j]) / (2 * t) - (f2[i][j] - fm2[i][j]) / (4 * t)) / 3 for j in range(m)]
         for i in range(m)]
    Af = np.array([[float(x) for x in r] for r in A])
    K = tc.wedge_operator3(Iv(Af))
    assert np.all(K.lo <= K.hi)
    assert all(Fraction(K.lo[i, j]) <= D[i][j] <= Fraction(K.hi[i, j]) for i in range(m) for j in range(m))
    assert np.max(K.hi - K.lo) < 1e-12
    E = np.full((m, m), 0.25)
    K = tc.wedge_operator3(Iv(Af - E, Af + E))
    assert all(Fraction(K.lo[i, j]) <= D[i][j] <= Fraction(K.hi[i, j]) for i in range(m) for j in range(m))
    for sgn in (-1, 1):                              # G at a corner of its box: inside K as well
        Kc = tc.wedge_operator3(Iv(Af + sgn * E))
        assert np.all(K.lo <= Kc.lo) and np.all(Kc.hi <= K.hi)
    assert np.min(K.hi - K.lo) >= 0.5 - 1e-9             # each entry sums >= one entry of G: width >= 2 * 0.25


# -- whole pieces --------------------------------------------------------------------------------------

def _args(cert):
    """check()'s inputs to check_three_piece for the first piece."""
    data = Data.of(cert["instance"])
    G = data.G()
    trG = float(sum(G.hi[i, i] for i in range(G.hi.shape[0])))
    total = iv.mpf(0)
    for d in range(data.W_p.shape[1]):
        col = iv.mpf(0)
        for r in range(data.W_r.shape[0]):
            col += iv.mpf(float(data.W_r[r, d])) ** 2
        total += iv.mpf(float(data.M[d])) * col
    piece = cert["pieces"][0]
    feats = [list(map(int, F)) for F in piece["pattern"]]
    return data, piece["record"], feats, G, total, float(piece["lower_bound"]), trG


def _run(cert, rec=None, lb=None, total=None, trG=None, consistency=CONSISTENCY, v=None):
    data, rec0, feats, G, total0, lb0, trG0 = _args(cert)
    v = v or Verdict(valid=True)
    tc.check_three_piece(data, rec0 if rec is None else rec, feats, G, total0 if total is None else total,
                         lb0 if lb is None else lb, trG0 if trG is None else trG, consistency, _complete, "P", v)
    return v


BOUND = re.compile(r"leaf (\d+) .*?the checker proves phi <= (\S+) there")


def _bounds(cert):
    """Each leaf's checked bound, read back (repr-exact, 17 digits) from the failures at an impossible lb."""
    v = _run(cert, lb=1e9)
    got = {int(m.group(1)): float(m.group(2)) for f in v.failures if (m := BOUND.search(f))}
    assert sorted(got) == list(range(len(_rec(cert)["leaves"])))
    return got


def _rec(c):
    return c["pieces"][0]["record"]


def test_pieces_and_leaves_are_counted(cert):
    v = check(cert)
    assert v.valid and v.pieces == 1 and v.leaves == len(_rec(cert)["leaves"])
    v = Verdict(valid=True, pieces=4, leaves=3)
    _run(cert, v=v)
    _run(cert, v=v)
    assert v.valid and v.pieces == 6 and v.leaves == 3 + 2 * len(_rec(cert)["leaves"])


def test_the_lower_bound_comparison_is_inclusive(cert):
    _, _, _, _, total, _, _ = _args(cert)
    bounds = _bounds(cert)
    exact = min(float((total - iv.mpf(b)).a) for b in bounds.values())
    assert exact > 0
    v = _run(cert, lb=exact)
    assert v.valid, v.failures[:2]
    v = _run(cert, lb=float(np.nextafter(exact, np.inf)))
    assert not v.valid and all(f.startswith("piece P: leaf ") for f in v.failures)


def test_the_checker_caps_phi_at_the_total(cert):
    """With a smaller ||R||^2 the piece-wide bound is capped there (never more, never less): any positive lb fails."""
    v = _run(cert, total=iv.mpf(1.0), lb=1e-30)
    assert not v.valid and len(v.failures) == len(_rec(cert)["leaves"])
    for f in v.failures:
        b = float(BOUND.search(f).group(2))
        assert 1.0 < b <= 1.0 + 4e-15


def test_a_piece_that_claims_nothing_is_not_refused_for_its_bound(cert):
    """lb = 0 claims nothing: even a bound above ||R||^2 (here: a smaller total given) is no failure."""
    v = _run(cert, total=iv.mpf(1.0), lb=0.0)
    assert v.valid, v.failures[:2]


def test_the_consistency_comparison(cert):
    bounds = _bounds(cert)
    rec = copy.deepcopy(_rec(cert))
    for i, leaf in enumerate(rec["leaves"]):
        leaf["bound"] = bounds[i]
    v = _run(cert, rec=rec, consistency=0.0)                      # claimed == checked: consistent
    assert v.valid, v.failures[:2]
    rec["leaves"][0]["bound"] = bounds[0] - 0.02
    assert _run(cert, rec=rec, consistency=0.01, trG=4.0).valid    # 0.02 looser, allowed 0.01 * 4
    v = _run(cert, rec=rec, consistency=0.01, trG=1.0)              # allowed 0.01 * 1: too loose
    assert not v.valid and len(v.failures) == 1 and v.failures[0].startswith("piece P: leaf 0 (root ")
    assert "looser than the certificate's claimed" in v.failures[0]


def test_malformed_leaf_paths_are_each_reported(cert):
    bad = copy.deepcopy(cert)
    leaves = _rec(bad)["leaves"]
    leaves[0]["path"] = [[0, 0, -1, 5]] + leaves[0]["path"]
    leaves[1]["path"] = [[2, 0, -1, 0]] + leaves[1]["path"]
    last = len(leaves) - 1
    leaves[last]["bound"] -= 0.01
    v = check(bad)
    assert not v.valid and v.leaves == len(leaves)
    assert any(f.startswith("piece ") and "leaf 0: malformed step [0, 0, -1, 5]" in f for f in v.failures)
    assert any("leaf 1: malformed step [2, 0, -1, 0]" in f for f in v.failures)
    assert any(f"leaf {last} (root" in f for f in v.failures)


def test_a_root_of_two_parts_is_refused(cert):
    bad = copy.deepcopy(cert)
    node = _rec(bad)["roots"][0]
    node.append(copy.deepcopy(node[0]))
    v = check(bad)
    assert not v.valid and any("a three-row piece whose roots are not single 'three' parts" in f
                               for f in v.failures)


def test_a_segment_of_three_vertices_is_refused(cert):
    bad = copy.deepcopy(cert)
    cell = _rec(bad)["free"][1]["cell"]
    cell.append(list(cell[0]))
    v = check(bad)
    assert not v.valid and any("a three-row chart needs three code rows" in f for f in v.failures)


def test_two_free_rows_without_a_fixed_code_row_are_refused(fixed_cert):
    bad = copy.deepcopy(fixed_cert)
    _rec(bad)["fixed"] = []
    v = check(bad)
    assert not v.valid and any("a three-row chart needs three code rows" in f for f in v.failures)


def test_a_fixed_row_on_a_rank_two_feature_set_is_refused(fixed_cert):
    bad = copy.deepcopy(fixed_cert)
    bad["pieces"][0]["pattern"][0] = [0, 1]
    v = check(bad)
    assert not v.valid and any("fixed row is not a fixed direction" in f for f in v.failures)


def test_a_float_op_argument_is_refused_not_a_crash(cert):
    bad = copy.deepcopy(cert)
    ops = _rec(bad)["roots"][0][0]["ops"]
    k = next(j for j, op in enumerate(ops) if op[0] in ("half", "phalf"))
    ops[k] = [ops[k][0], ops[k][1], float(ops[k][2])]
    v = check(bad)
    assert not v.valid and any("ops are refused (malformed op" in f for f in v.failures)


def test_a_divide_on_a_face_where_w_does_not_vanish_is_refused(cert):
    bad = copy.deepcopy(cert)
    for node in _rec(bad)["roots"]:
        node[0]["ops"] = [["divide", 2]] + node[0]["ops"]
    v = check(bad)
    assert not v.valid and any("ops are refused (divide: w does not vanish on the face)" in f for f in v.failures)


def test_a_fixed_row_on_a_one_ray_cell_is_its_exact_ray(ray_cert):
    """ReLU, n_p = 2: the fixed latent's cell is cut to a ray by the antiparallel features 0 and 1, so its code
    direction is fixed (leaf.fixed_generators' exact ray): the piece verifies, and the ray comes from the cell, not
    from the file's row."""
    rec = _rec(ray_cert)
    assert len(rec["free"]) == 2 and [f["latent"] for f in rec["fixed"]] == [0]
    assert all(p["kind"] == "three" for node in rec["roots"] for p in node)
    v = check(ray_cert)
    assert v.valid and v.pieces == 1 and v.leaves == len(rec["leaves"]), v.failures[:2]
    moved = copy.deepcopy(ray_cert)
    _rec(moved)["fixed"][0]["w"] = [1.0, 0.5]
    assert check(moved).valid
