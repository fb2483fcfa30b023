"""The checker on plain-TopK certificates (record kind "topk_plain", certcheck/topk_plain.py).

It must accept what `certify --certificate` writes for plain TopK (k = 1 and a transcoder with Schur leaves)
and catch a corrupted file: a leaf's claimed residual raised, its proof input mu lowered (the positive
definiteness then fails), a leaf removed, a piece lower bound raised, a piece bound lowered below the global.
"""
import copy
import json

import pytest

from sdlscape.certcheck import check
from sdlscape.certcheck.topk_plain import group_bound
from sdlscape.cli import main
from sdlscape.theory.activations import TopK
from sdlscape.theory.instance import random_unit, save_instance, transcoder_pair


def _certificate(tmp_path_factory, inst, name):
    d = tmp_path_factory.mktemp(name)
    path = d / "inst.json"
    save_instance(inst, path)
    out = d / "cert.json"
    assert main(["certify", str(path), "--certificate", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def topk1(tmp_path_factory):
    return _certificate(tmp_path_factory, random_unit(4, 2, TopK(k=1), n_latents=2, seed=0), "topk1")


@pytest.fixture(scope="module")
def topk_transcoder(tmp_path_factory):
    return _certificate(tmp_path_factory, transcoder_pair(5, 2, 3, TopK(k=1), n_latents=2, seed=1), "topk_tc")


def _positive_leaf(cert):
    """(piece index, leaf index) of the leaf with the largest proven bound."""
    best = max(((i, j) for i, p in enumerate(cert["pieces"]) for j in range(len(p["record"]["leaves"]))),
               key=lambda ij: cert["pieces"][ij[0]]["record"]["leaves"][ij[1]]["bound"])
    return best


def test_the_certifiers_plain_topk_certificates_are_valid(topk1, topk_transcoder):
    for cert in (topk1, topk_transcoder):
        assert cert["certified"] and all(p["record"]["kind"] == "topk_plain" for p in cert["pieces"])
        v = check(cert)
        assert v.valid, v.failures[:3]
        assert v.leaves == sum(len(p["record"]["leaves"]) for p in cert["pieces"]) and v.pieces == len(cert["pieces"])
    kinds = {lf["kind"] for p in topk_transcoder["pieces"] for lf in p["record"]["leaves"]}
    assert "schur" in kinds


def test_checker_group_bound_agrees_with_the_certifiers(topk_transcoder):
    data_inst = topk_transcoder["instance"]
    import numpy as np

    W_p, W_r, M = (np.asarray(data_inst[k], dtype=float) for k in ("W_p", "W_r", "M"))
    for p in topk_transcoder["pieces"]:
        for lf in p["record"]["leaves"]:
            b, why = group_bound(W_p, W_r, M, lf, 1)
            assert why is None and abs(b - lf["bound"]) <= 1e-12 * max(1.0, lf["bound"])


@pytest.mark.parametrize("which", ["topk1", "topk_transcoder"])
def test_a_raised_leaf_claim_is_caught(which, request):
    bad = copy.deepcopy(request.getfixturevalue(which))
    i, j = _positive_leaf(bad)
    bad["pieces"][i]["record"]["leaves"][j]["bound"] *= 1.01
    v = check(bad)
    assert not v.valid and any(f"leaf {j} " in f and "claims" in f for f in v.failures)


@pytest.mark.parametrize("which", ["topk1", "topk_transcoder"])
def test_a_lowered_mu_is_caught(which, request):
    bad = copy.deepcopy(request.getfixturevalue(which))
    i, j = _positive_leaf(bad)
    leaf = bad["pieces"][i]["record"]["leaves"][j]
    leaf["mu"] -= 1e-3 * max(abs(leaf["mu"]), 1e-3)
    v = check(bad)
    assert not v.valid and any("not proven positive definite" in f for f in v.failures)


def test_a_removed_leaf_is_caught(topk1):
    bad = copy.deepcopy(topk1)
    i, _ = _positive_leaf(bad)
    bad["pieces"][i]["record"]["leaves"].pop()
    v = check(bad)
    assert not v.valid and any("grouped by passing set" in f for f in v.failures)


def test_a_raised_piece_lower_bound_is_caught(topk1):
    bad = copy.deepcopy(topk1)
    i, _ = _positive_leaf(bad)
    bad["pieces"][i]["lower_bound"] += 1e-6
    v = check(bad)
    assert not v.valid and any("exceeds the sum of the proven group bounds" in f for f in v.failures)


def test_a_piece_bound_lowered_below_the_global_is_caught(topk1):
    bad = copy.deepcopy(topk1)
    bad["pieces"][0]["lower_bound"] = 0.5 * bad["lower_bound"]
    v = check(bad)
    assert not v.valid and any("exceeds the least piece lower bound" in f for f in v.failures)


def test_a_lowered_global_bound_stays_valid_but_a_raised_one_does_not(topk1):
    weaker = copy.deepcopy(topk1)
    weaker["lower_bound"] *= 0.5                    # a weaker claim is still true; certified then needs the gap
    weaker["certified"] = False
    assert check(weaker).valid
    bad = copy.deepcopy(topk1)
    bad["lower_bound"] *= 1.001
    assert not check(bad).valid


def test_a_k2_certificate_with_zero_leaves_is_valid(tmp_path_factory):
    """TopK(2), 3 latents, n = 4 in R^2: zero loss is reached, every piece's bound is a sum of zero leaves (and
    the checker's outward-rounded sum of zeros must still prove a lower bound of 0)."""
    d = tmp_path_factory.mktemp("topk2")
    path = d / "inst.json"
    save_instance(random_unit(4, 2, TopK(k=2), n_latents=3, seed=0), path)
    out = d / "cert.json"
    assert main(["certify", str(path), "--certificate", str(out), "--incumbent-starts", "16", "--all-pieces"]) == 0
    cert = json.loads(out.read_text())
    assert cert["certified"] and cert["lower_bound"] == 0.0 and cert["value"] <= 1e-12
    assert any(lf["kind"] == "zero" for p in cert["pieces"] for lf in p["record"]["leaves"])
    v = check(cert)
    assert v.valid, v.failures[:3]


# ---------------------------------------------------------------- rules found untested by mutation (mutmut)

def test_the_schur_block_keeps_both_ends_of_every_interval():
    import numpy as np

    from sdlscape.certcheck.intervals import Iv
    from sdlscape.certcheck.topk_plain import _block

    a, b, c, d = (Iv(np.full((1, 1), x), np.full((1, 1), x + 1.0)) for x in (1.0, 2.0, 3.0, 4.0))
    B = _block(a, b, c, d)
    assert np.array_equal(B.lo, [[1.0, 2.0], [3.0, 4.0]]) and np.array_equal(B.hi, [[2.0, 3.0], [4.0, 5.0]])


def _leaf_of(cert):
    import numpy as np

    inst = cert["instance"]
    W_p, M = np.asarray(inst["W_p"], dtype=float), np.asarray(inst["M"], dtype=float)
    W_r = np.asarray(inst.get("W_r", inst["W_p"]), dtype=float)           # an SAE file has no W_r
    i, j = _positive_leaf(cert)
    return W_p, W_r, M, copy.deepcopy(cert["pieces"][i]["record"]["leaves"][j])


def test_group_bound_proves_nothing_from_a_malformed_leaf(topk_transcoder):
    W_p, W_r, M, leaf = _leaf_of(topk_transcoder)
    assert group_bound(W_p, W_r, M, leaf, 1)[0] > 0
    for change, why in [({"mu": float("nan")}, "not finite"), ({"kind": "other"}, "unknown leaf kind"),
                        ({"mu": -1.0}, "not proven positive definite")]:
        b, msg = group_bound(W_p, W_r, M, {**leaf, **change}, 1)
        assert b == 0.0 and why in msg
    wide = {**leaf, "U": [row + [0.0] for row in (leaf["U"] if isinstance(leaf["U"][0], list) else [[u] for u in leaf["U"]])]}
    b, msg = group_bound(W_p, W_r, M, wide, 1)            # 2 columns where k = 1 allows 1
    assert b == 0.0 and "columns" in msg


def test_a_leaf_claim_within_the_stated_consistency_passes_and_beyond_it_fails(topk1):
    import numpy as np

    from sdlscape.certcheck.topk_plain import CONSISTENCY

    W_p, W_r, M, _ = _leaf_of(topk1)
    i, j = _positive_leaf(topk1)
    leaf = topk1["pieces"][i]["record"]["leaves"][j]
    proven, _ = group_bound(W_p, W_r, M, leaf, 1)
    scale = float(sum(M[d] * np.sum(W_r[:, d] ** 2) for d in leaf["features"]))
    assert scale > 1.5                                     # so that CONSISTENCY * scale and / scale differ
    for factor, valid in [(0.5, True), (2.0, False)]:
        cert = copy.deepcopy(topk1)
        cert["pieces"][i]["record"]["leaves"][j]["bound"] = proven + factor * CONSISTENCY * scale
        v = check(cert)
        assert (not any("claims a residual" in f for f in v.failures)) is valid


@pytest.mark.parametrize("edit", ["no_k", "no_leaves"])
def test_a_record_missing_k_or_its_leaves_is_caught_not_crashed(topk1, edit):
    bad = copy.deepcopy(topk1)
    rec = bad["pieces"][0]["record"]
    rec.pop("k" if edit == "no_k" else "leaves")
    v = check(bad)
    assert not v.valid and any("grouped by passing set" in f for f in v.failures)
