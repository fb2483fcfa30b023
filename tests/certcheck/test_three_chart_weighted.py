"""Three-row certificates with projective halves and weighted blow-ups (charts_three: phalf, wblowup; issue 28,
transcoder_pair(4, n_p=2, n_r=2, relu, 3 latents, seed 0), piece [[0,1],[1,3],[1,2,3]], whose infimum is approached
along a curve on a blow-up's exceptional divisor): the checker replays both ops exactly (from its own code), accepts
the file, and refuses a weighted blow-up whose precondition fails, one that does not follow projective halves only
(its y_a > 1 would leave the segment), a pairing with the wrong blow-up, a removed weighted root and a lowered leaf
bound in a weighted chart."""
import copy
import itertools
import json
from fractions import Fraction

import numpy as np
import pytest

from sdlscape.certcheck import check
from sdlscape.certcheck import three_chart as tc
from sdlscape.cli import main
from sdlscape.theory.instance import save_instance, transcoder_pair

CURVE = "[[0,1],[1,3],[1,2,3]]"


@pytest.fixture(scope="module")
def _wcert(tmp_path_factory):
    folder = tmp_path_factory.mktemp("weighted")
    inst = folder / "tc2.json"
    save_instance(transcoder_pair(n=4, n_p=2, n_r=2, activation="relu", n_latents=3, seed=0), inst)
    out = folder / "tc2.cert.json"
    assert main(["certify", str(inst), "--pattern", CURVE, "--rtol", "1e-5", "--node-limit", "3000",
                 "--certificate", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture
def wcert(_wcert):
    return copy.deepcopy(_wcert)


def _rec(c):
    return c["pieces"][0]["record"]


def _weighted(rec):
    return [r for r, node in enumerate(rec["roots"]) if any(op[0] == "wblowup" for op in node[0]["ops"])]


def test_weighted_certificate_is_valid(wcert):
    rec = _rec(wcert)
    assert _weighted(rec) and all(node[0]["ops"][0][0] == "phalf" for node in rec["roots"])
    v = check(wcert)
    assert v.valid, v.failures[:3]
    assert v.leaves == len(rec["leaves"]) and wcert["certified"]


def _ev(poly, y):
    return tuple(tc._value(poly, y))


def test_phalf_and_wblowup_are_their_substitutions():
    rng = np.random.default_rng(0)
    ends = [rng.integers(-5, 6, size=(2, 4)).astype(float) for _ in range(3)]
    poly = tc.wedge_poly(ends)
    for a, which in itertools.product(range(3), (0, 1)):
        for _ in range(3):
            y = [Fraction(int(rng.integers(1, 100)), 64) for _ in range(3)]
            x = list(y)
            x[a] = 1 / (1 + y[a]) if which else y[a] / (1 + y[a])
            assert _ev(tc.apply_op(poly, ("phalf", a, which)), y) == tuple((1 + y[a]) * v for v in _ev(poly, x))
    # a polynomial meeting the weighted blow-up's precondition: w on y_0 = 0 is y_2 W
    N = len(next(iter(poly.values())))
    wp = {e: (tuple(Fraction(int(rng.integers(-9, 10))) for _ in range(N)) if e[0] == 1 or e == (0, 0, 1)
              else tuple(Fraction(0) for _ in range(N))) for e in itertools.product((0, 1), repeat=3)}
    out = tc.apply_op(wp, ("wblowup", 0, 1, 2))
    for _ in range(5):
        y = [Fraction(int(rng.integers(1, 100)), 64) for _ in range(3)]
        assert _ev(out, y) == tuple(y[1] / y[2] * v for v in _ev(wp, [y[0] * y[2] / y[1], y[1], y[2]]))
    for bad in (("wblowup", 0, 2, 1), ("wblowup", 1, 0, 2), ("wblowup", 0, 0, 2), ("wblowup", 0, 1)):
        with pytest.raises(ValueError):
            tc.apply_op(wp, bad)


def test_weighted_cover_rules():
    w, b = ("wblowup", 0, 1, 2), ("blowup", 2, 0)
    assert tc.covers([(w,), (b,)])
    assert not tc.covers([(w,), (("blowup", 0, 2),)])        # the same region as the weighted chart
    assert not tc.covers([(w,), (("blowup", 2, 1),)])
    assert not tc.covers([(w,)])
    assert tc.covers([(("phalf", 1, 0),), (("phalf", 1, 1),)])
    assert not tc.covers([(("phalf", 1, 0),), (("half", 1, 1),)])
    assert tc.weighted_context_ok((("phalf", 0, 1), ("half", 1, 0), w, ("half", 0, 1)))
    assert not tc.weighted_context_ok((("half", 0, 1), w))           # y_a > 1 would leave the segment
    assert not tc.weighted_context_ok((("phalf", 0, 1), ("flip", 0), w))


def test_a_weighted_blow_up_after_a_flip_is_refused(wcert):
    """Two flips of axis a change no polynomial (the precondition still holds), but the rule refuses any op other
    than halves before a weighted blow-up."""
    rec = _rec(wcert)
    for node in rec["roots"]:
        ops = node[0]["ops"]
        k = next((j for j, op in enumerate(ops) if op[0] == "wblowup"), None)
        if k is not None:
            a = ops[k][1]
            node[0]["ops"] = ops[:k] + [["flip", a], ["flip", a]] + ops[k:]
    v = check(wcert)
    assert not v.valid and any("weighted blow-up does not follow" in f for f in v.failures)


def test_a_weighted_blow_up_on_other_axes_is_refused(wcert):
    rec = _rec(wcert)
    ops = rec["roots"][_weighted(rec)[0]][0]["ops"]
    k = next(j for j, op in enumerate(ops) if op[0] == "wblowup")
    _, a, b, c = ops[k]
    ops[k] = ["wblowup", c, b, a]
    v = check(wcert)
    assert not v.valid and any("ops are refused (wblowup" in f for f in v.failures)


def test_a_removed_weighted_root_is_caught(wcert):
    rec = _rec(wcert)
    r = _weighted(rec)[-1]
    rec["roots"].pop(r)
    rec["leaves"] = [dict(lf, root=lf["root"] - (lf["root"] > r)) for lf in rec["leaves"] if lf["root"] != r]
    v = check(wcert)
    assert not v.valid and any("do not cover the cube" in f for f in v.failures)


def test_a_lowered_leaf_bound_in_a_weighted_chart_is_caught(wcert):
    rec = _rec(wcert)
    ws = set(_weighted(rec))
    i = max((j for j, lf in enumerate(rec["leaves"]) if lf["root"] in ws), key=lambda j: rec["leaves"][j]["bound"])
    rec["leaves"][i]["bound"] -= 1e-3
    v = check(wcert)
    assert not v.valid and any(f"leaf {i} " in f for f in v.failures)
