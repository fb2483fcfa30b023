"""Certificate files with three-row charts (three free rows of an n_p = 2 piece; charts_three.py): the checker
rebuilds the exact Pluecker polynomial from the cells, replays every root's ops (refusing a blow-up of an edge on
which w does not vanish), checks that the roots cover the cube and the leaves each root, re-evaluates every leaf's
ratio bound in interval arithmetic, and catches a corrupted file: a lowered leaf bound, a raised piece lower bound,
a removed root, a removed leaf, a blow-up moved to another edge."""
import copy

from sdlscape.certcheck import check
from sdlscape.certcheck import three_chart as tc


def test_three_row_certificate_with_a_fixed_row_is_valid_and_a_raised_bound_is_caught(fixed_cert):
    rec = _rec(fixed_cert)
    assert all(p["kind"] == "three" for node in rec["roots"] for p in node) and len(rec["free"]) == 2
    v = check(fixed_cert)
    assert v.valid, v.failures[:3]
    assert v.leaves == len(rec["leaves"]) and fixed_cert["certified"]
    bad = copy.deepcopy(fixed_cert)
    bad["pieces"][0]["lower_bound"] += 0.002
    assert not check(bad).valid
    bad = copy.deepcopy(fixed_cert)                  # the fixed latent claimed on a rank-2 feature set
    bad["pieces"][0]["pattern"][0] = [0, 1]
    assert not check(bad).valid


def _rec(c):
    return c["pieces"][0]["record"]


def test_three_row_certificate_is_valid(cert):
    rec = _rec(cert)
    assert all(p["kind"] == "three" for node in rec["roots"] for p in node)
    assert any(op[0] == "blowup" for node in rec["roots"] for op in node[0]["ops"])
    v = check(cert)
    assert v.valid, v.failures[:3]
    assert v.leaves == len(rec["leaves"]) and cert["certified"]


def test_a_lowered_leaf_bound_is_caught(cert):
    bad = copy.deepcopy(cert)
    leaves = _rec(bad)["leaves"]
    i = max(range(len(leaves)), key=lambda j: leaves[j]["bound"])
    leaves[i]["bound"] -= 0.01
    v = check(bad)
    assert not v.valid and any(f"leaf {i} " in f for f in v.failures)


def test_a_raised_lower_bound_is_caught(cert):
    bad = copy.deepcopy(cert)
    bad["pieces"][0]["lower_bound"] += 0.002
    v = check(bad)
    assert not v.valid and any("below the piece's claimed lower bound" in f for f in v.failures)


def test_a_removed_root_is_caught(cert):
    bad = copy.deepcopy(cert)
    rec = _rec(bad)
    last = len(rec["roots"]) - 1
    rec["roots"].pop()
    rec["leaves"] = [lf for lf in rec["leaves"] if lf["root"] != last]
    v = check(bad)
    assert not v.valid and any("do not cover the cube" in f for f in v.failures)


def test_a_removed_leaf_is_caught(cert):
    bad = copy.deepcopy(cert)
    rec = _rec(bad)
    deep = max(range(len(rec["leaves"])), key=lambda j: len(rec["leaves"][j]["path"]))
    rec["leaves"].pop(deep)
    v = check(bad)
    assert not v.valid and any("do not cover it" in f for f in v.failures)


def test_a_blow_up_of_another_edge_is_caught(cert):
    bad = copy.deepcopy(cert)
    rec = _rec(bad)
    node = next(n for n in rec["roots"] if any(op[0] == "blowup" for op in n[0]["ops"]))
    ops = node[0]["ops"]
    k = next(j for j, op in enumerate(ops) if op[0] == "blowup")
    a, b = ops[k][1], ops[k][2]
    c = 3 - a - b
    moved = []
    for new in ([a, c], [c, a], [b, c], [c, b]):
        trial = copy.deepcopy(bad)
        nd = next(n for n in _rec(trial)["roots"] if n[0]["ops"] == ops)
        nd[0]["ops"][k] = ["blowup", *new]
        moved.append(check(trial))
    assert all(not v.valid for v in moved)
    assert any(any("refused" in f for f in v.failures) for v in moved)


def test_cover_rule():
    h = [("half", a, w) for a in range(3) for w in (0, 1)]
    full = [(h[0], h[2], h[4]), (h[0], h[2], h[5]), (h[0], h[3], h[4]), (h[0], h[3], h[5]),
            (h[1], h[2], h[4]), (h[1], h[2], h[5]), (h[1], h[3], h[4]), (h[1], h[3], h[5])]
    assert tc.covers(full)
    assert not tc.covers(full[:-1])
    blown = full[:-1] + [full[-1] + (("blowup", 0, 1),), full[-1] + (("blowup", 1, 0),)]
    assert tc.covers(blown)
    assert not tc.covers(full[:-1] + [full[-1] + (("blowup", 0, 1),), full[-1] + (("blowup", 1, 2),)])
