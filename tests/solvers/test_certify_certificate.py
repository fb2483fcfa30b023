"""Certificate files (`certify --certificate`) and the independent checker (`check-certificate`).

The checker must accept what the certifier writes and catch a corrupted file: a leaf bound lowered, a
leaf removed, a piece lower bound raised, a global lower bound raised.
"""
import copy
import json
import subprocess
import sys

import pytest

from sdlscape.certcheck import Iv, check, inverse, positive_definite
from sdlscape.cli import main
from sdlscape.theory.instance import save_instance, transcoder_pair


@pytest.fixture(scope="module")
def nested_certificate(tmp_path_factory):
    """A nested piece (a blow-up chart) certified at rtol 1e-2: a small certificate."""
    d = tmp_path_factory.mktemp("cert")
    inst = d / "t4.json"
    save_instance(transcoder_pair(4, 2, 3, "relu", n_latents=2, seed=0), inst)
    out = d / "t4.cert.json"
    rc = main(["certify", str(inst), "--pattern", "[[0,2],[0,2,3]]", "--rtol", "1e-2", "--node-limit", "2000",
               "--certificate", str(out)])
    assert rc == 0
    return json.loads(out.read_text())


def _leaves(cert):
    return cert["pieces"][0]["record"]["leaves"]


def test_the_certifiers_certificate_is_valid(nested_certificate):
    cert = nested_certificate
    assert cert["certified"] and any(p["kind"] == "blowup" for node in cert["pieces"][0]["record"]["roots"]
                                     for p in node)
    v = check(cert)
    assert v.valid, v.failures[:3]
    assert v.leaves == len(_leaves(cert)) > 10


def _tightest(cert):
    """Index of the leaf with the largest bound (the one the piece's lower bound rests on)."""
    leaves = _leaves(cert)
    return max(range(len(leaves)), key=lambda i: leaves[i]["bound"])


def test_a_lowered_leaf_bound_is_caught(nested_certificate):
    bad = copy.deepcopy(nested_certificate)
    i = _tightest(bad)
    _leaves(bad)[i]["bound"] *= 0.9
    v = check(bad)
    assert not v.valid and any(f"leaf {i} " in f for f in v.failures)


def test_a_removed_leaf_is_caught(nested_certificate):
    bad = copy.deepcopy(nested_certificate)
    del _leaves(bad)[len(_leaves(bad)) // 2]
    v = check(bad)
    assert not v.valid and any("do not cover" in f for f in v.failures)


def test_a_raised_lower_bound_is_caught(nested_certificate):
    """A piece lower bound above the value at the minimiser is false whatever the refinement (a lower bound
    raised within the rtol-1e-2 gap may still be true, and the checker's own bisection may prove it)."""
    bad = copy.deepcopy(nested_certificate)
    bad["pieces"][0]["lower_bound"] = bad["value"] * 1.001
    v = check(bad)
    assert not v.valid and any("below the piece's claimed lower bound" in f for f in v.failures)
    bad = copy.deepcopy(nested_certificate)
    bad["lower_bound"] = bad["pieces"][0]["lower_bound"] * 1.001
    assert not check(bad).valid


def test_a_moved_minimiser_is_caught(nested_certificate):
    bad = copy.deepcopy(nested_certificate)
    bad["minimiser"]["W_D"] = [[2 * x for x in row] for row in bad["minimiser"]["W_D"]]
    assert not check(bad).valid


def test_interval_helpers_enclose_the_exact_results():
    A = Iv([[4.0, 1.0], [1.0, 3.0]])
    Ai = inverse(A)
    exact = [[3 / 11, -1 / 11], [-1 / 11, 4 / 11]]
    assert all(Ai.lo[i, j] <= exact[i][j] <= Ai.hi[i, j] for i in range(2) for j in range(2))
    assert positive_definite(A) and not positive_definite(Iv([[1.0, 2.0], [2.0, 1.0]]))


def test_the_checker_imports_no_branch_and_bound_code():
    code = ("import sys, sdlscape.certcheck; "
            "bad = [m for m in sys.modules if m.startswith('sdlscape.solvers') or m.startswith('sdlscape.theory')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_check_certificate_command_exit_codes(nested_certificate, tmp_path, capsys):
    import gzip

    good = tmp_path / "good.json.gz"
    good.write_bytes(gzip.compress(json.dumps(nested_certificate).encode()))
    assert main(["check-certificate", str(good)]) == 0
    bad = copy.deepcopy(nested_certificate)
    del _leaves(bad)[0]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    assert main(["check-certificate", str(tmp_path / "bad.json")]) == 3
    assert "INVALID" in capsys.readouterr().out
    assert main(["check-certificate", str(tmp_path / "missing.json")]) == 2


def test_a_shrunk_box_is_caught(nested_certificate):
    """A blow-up root's box shrunk (tau_1 halved): the roots no longer cover the cells."""
    bad = copy.deepcopy(nested_certificate)
    part = next(p for node in bad["pieces"][0]["record"]["roots"] for p in node if p["kind"] == "blowup")
    part["box"][3] *= 0.5
    v = check(bad)
    assert not v.valid and any("cover measure" in f for f in v.failures)



def test_the_checker_refines_a_collapsed_subtree_itself(nested_certificate):
    """A root whose leaves are replaced by the root alone (its bound does not prove the piece's lower bound):
    the checker bisects it with the certifier's own children until it does, and says so; with no budget it
    names the leaf."""
    import sdlscape.certcheck as cc

    cert = copy.deepcopy(nested_certificate)
    leaves = _leaves(cert)
    by_root = {}
    for leaf in leaves:
        by_root.setdefault(leaf["root"], []).append(leaf)
    r = min((k for k in by_root if len(by_root[k]) >= 3), key=lambda k: len(by_root[k]))
    cert["pieces"][0]["record"]["leaves"] = (
        [leaf for leaf in leaves if leaf["root"] != r]
        + [{"root": r, "path": [], "bound": max(leaf["bound"] for leaf in by_root[r])}])
    v = check(cert)
    assert v.valid, v.failures[:2]
    assert v.refined >= 1 and v.refine_nodes >= 2
    budget = cc.REFINE_BUDGET
    try:
        cc.REFINE_BUDGET = 0
        v = check(cert)
    finally:
        cc.REFINE_BUDGET = budget
    assert not v.valid and any("not closed by refinement: 0 nodes" in f for f in v.failures)


def test_the_checker_reports_the_room_it_left(nested_certificate):
    """least_room: how far the checker's own floor ||R||^2 - bound stays above the piece's lower bound (relative to
    ||R||^2); a valid certificate of a piece with a positive lower bound has it >= 0, and a piece lower bound raised
    by more than it (within the rtol-1e-2 gap, so the value still lies above) fails on the leaf that had it."""
    import sdlscape.certcheck as cc

    v = check(nested_certificate)
    assert v.valid and v.least_room is not None and v.least_room >= 0 and v.least_margin is not None
    bad = copy.deepcopy(nested_certificate)
    total = sum(m * sum(r[d] ** 2 for r in bad["instance"]["W_r"]) for d, m in enumerate(bad["instance"]["M"]))
    bad["pieces"][0]["lower_bound"] += (v.least_room + 1e-12) * total
    budget = cc.REFINE_BUDGET
    try:
        cc.REFINE_BUDGET = 0                         # no bisection: the recorded leaves as they are
        w = check(bad)
    finally:
        cc.REFINE_BUDGET = budget
    assert not w.valid and w.least_room < 0


def test_the_three_latent_transcoder_certifies_through_its_certificate_file(tmp_path):
    """transcoder_pair(4, 2, 3, relu, 3 latents, seed 0): value 0.0392455516 ~ 1e-2 ||R||^2, so a record slack of
    1e-9 ||R||^2 (4e-9) exceeded rtol x value (3.9e-9): its file checked VALID but did not certify at 1e-7. With
    numerics.CERTIFY_RECORD_SLACK sized by the checker's measured need, the file certifies and checks VALID."""
    inst = tmp_path / "tc3.json"
    save_instance(transcoder_pair(4, 2, 3, "relu", n_latents=3, seed=0), inst)
    out = tmp_path / "tc3.cert.json"
    assert main(["certify", str(inst), "--node-limit", "20000", "--certificate", str(out)]) == 0
    cert = json.loads(out.read_text())
    assert cert["rtol"] == 1e-7 and cert["certified"], (cert["value"], cert["lower_bound"])
    v = check(cert)
    assert v.valid, v.failures[:3]
    assert v.least_room >= 0
