"""Certificate files with span charts (two free rows whose n_p = 3 cells meet): the checker rebuilds the direction
basis from the data, re-evaluates every leaf in interval arithmetic (subspace, perturbation and Pluecker bounds)
and catches a corrupted file: a span leaf's bound lowered, a span root's box shrunk, a root removed, a
generator or pivot changed."""
import copy
import json

import numpy as np
import pytest

from sdlscape.certcheck import check
from sdlscape.certcheck.intervals import Iv
from sdlscape.certcheck.span_chart import wedge_bound, wedge_operator
from sdlscape.cli import main
from sdlscape.theory.activations import ReLU
from sdlscape.theory.instance import random_unit, save_instance


def _certify(tmp_path_factory, pattern, extra):
    d = tmp_path_factory.mktemp("span")
    inst = d / "s1.json"
    save_instance(random_unit(4, 3, ReLU(), n_latents=2, seed=1), inst)
    out = d / "s1.cert.json"
    rc = main(["certify", str(inst), "--pattern", pattern, "--certificate", str(out), *extra])
    assert rc == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def one_cell(tmp_path_factory):
    """Two latents on one cell (the exact span chart), certified at rtol 1e-3: a small certificate."""
    return _certify(tmp_path_factory, "[[0,1,2,3],[0,1,2,3]]", ["--rtol", "1e-3", "--node-limit", "2000"])


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    """Nested cells (a relaxed span chart): 300 nodes, inconclusive, but every leaf bound is a claim."""
    return _certify(tmp_path_factory, "[[0,2,3],[0,1,2,3]]", ["--node-limit", "300"])


def _rec(cert):
    return cert["pieces"][0]["record"]


def _span_leaves(cert):
    """Indices of the leaves below a root with a span part, largest bound first."""
    rec = _rec(cert)
    idx = [i for i, lf in enumerate(rec["leaves"])
           if any(p["kind"] == "span" for p in rec["roots"][lf["root"]])]
    return sorted(idx, key=lambda i: -rec["leaves"][i]["bound"])


@pytest.mark.parametrize("name", ["one_cell", "nested"])
def test_span_certificates_are_valid(name, request):
    cert = request.getfixturevalue(name)
    assert _span_leaves(cert)
    v = check(cert)
    assert v.valid, v.failures[:3]
    assert v.leaves == len(_rec(cert)["leaves"])
    if name == "one_cell":
        assert cert["certified"]


@pytest.mark.parametrize("name", ["one_cell", "nested"])
def test_a_lowered_span_leaf_bound_is_caught(name, request):
    bad = copy.deepcopy(request.getfixturevalue(name))
    i = _span_leaves(bad)[0]
    _rec(bad)["leaves"][i]["bound"] -= 0.05 * abs(_rec(bad)["leaves"][i]["bound"]) + 0.05
    v = check(bad)
    assert not v.valid and any(f"leaf {i} " in f for f in v.failures)


def test_a_shrunk_span_root_box_is_caught(one_cell):
    bad = copy.deepcopy(one_cell)
    for node in _rec(bad)["roots"]:
        for p in node:
            if p["kind"] == "span":
                p["box"][0] = [-0.5, 1.0]
                break
        else:
            continue
        break
    v = check(bad)
    assert not v.valid and any("cube face" in f for f in v.failures)


def test_a_removed_span_root_is_caught(nested):
    bad = copy.deepcopy(nested)
    rec = _rec(bad)
    drop = len(rec["roots"]) - 1
    del rec["roots"][drop]
    rec["leaves"] = [lf for lf in rec["leaves"] if lf["root"] != drop]
    v = check(bad)
    assert not v.valid and any("cover" in f for f in v.failures)


def test_a_changed_generator_or_pivot_is_caught(nested):
    for edit in ("gens", "pivot"):
        bad = copy.deepcopy(nested)
        for node in _rec(bad)["roots"]:
            for p in node:
                if p["kind"] == "span":
                    if edit == "gens":
                        p["gens"] = p["gens"][:-1]
                    else:
                        p["pivot"] = len(p["gens"])
        v = check(bad)
        assert not v.valid, edit


def test_the_interval_pluecker_bound_is_never_beaten_by_sampled_points():
    rng = np.random.default_rng(2)
    R = rng.standard_normal((4, 4))
    G = R.T @ R
    A = wedge_operator(Iv(G))
    for _ in range(30):
        X = rng.standard_normal(4) + 0.05 * rng.standard_normal((3, 4))
        U = rng.standard_normal(4) + 0.05 * rng.standard_normal((4, 4))
        b = wedge_bound(A, Iv(X), Iv(U))
        for _ in range(20):
            x, u = rng.dirichlet(np.ones(3)) @ X, rng.dirichlet(np.ones(4)) @ U
            M = np.stack([x, u])
            P = M.T @ np.linalg.solve(M @ M.T, M)
            assert np.trace(G @ P) <= b + 1e-12


def test_the_span_basis_is_an_interval_with_both_ends(nested, monkeypatch):
    """The basis E that every corner code is built from keeps both ends of its outward-rounded intervals: a basis
    collapsed to one end (lo or hi alone) would drop the rounding the leaf bounds rely on."""
    from sdlscape.certcheck import span_chart

    seen = []
    real = span_chart.basis

    def spy(*args):
        E = real(*args)
        seen.append(E)
        return E

    monkeypatch.setattr(span_chart, "basis", spy)
    assert check(nested).valid
    assert seen
    for E in seen:
        assert np.all(E.lo <= E.hi) and np.any(E.lo < E.hi)
        mid = (E.lo + E.hi) / 2
        assert np.all(E.hi - E.lo <= 1e-9 * np.maximum(1.0, np.abs(mid)))
