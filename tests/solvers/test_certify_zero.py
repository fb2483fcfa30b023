"""Zero-loss instances: when the multistart's value already meets the trivial bound L~ >= 0 (eq. 11 is a sum of
squares), global mode certifies it without enumerating pieces, the certificate file stands on that bound alone,
and the separate checker accepts such a file only with a lower bound <= 0 and a minimiser whose exact value
meets it."""
import copy
import gzip
import json

import numpy as np
import pytest

from sdlscape.certcheck import check
from sdlscape.cli import main
from sdlscape.errors import InputError
from sdlscape.solvers.certify import certify_global
from sdlscape.solvers.landscape import enumerate_pieces
from sdlscape.theory.instance import random_unit, save_instance
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern, read_pattern


def test_a_zero_loss_instance_past_the_piece_limit_is_certified():
    """ReLU, n = 6 in R^3, 3 latents: 5984 pieces (refused by the default --max-pieces 2000), loss 0 reached."""
    inst = random_unit(6, 3, "relu", n_latents=3, seed=0)
    with pytest.raises(InputError, match="5984 pieces"):
        enumerate_pieces(inst, 1e-3, 2000)
    g = certify_global(inst, node_limit=100, max_pieces=2000)
    assert g.certified and g.lower_bound == 0.0 and g.pieces == ()
    assert 0.0 <= g.value <= g.atol and "trivial_bound" in g.detail
    mn = g.minimiser
    assert read_pattern(inst, mn.minimiser_W_E, inst.activation.linear_reading) == Pattern.parse(
        mn.pattern.to_json(), inst.n, inst.n_latents)
    assert approx_loss(inst, mn.minimiser_W_D, mn.minimiser_W_E) <= 1e-20


def test_the_shortcut_agrees_with_the_full_enumeration():
    inst = random_unit(4, 2, "relu", n_latents=3, seed=0)
    short = certify_global(inst, node_limit=2000)
    full = certify_global(inst, node_limit=2000, zero_shortcut=False)
    assert short.pieces == () and len(full.pieces) > 1 and "trivial_bound" not in full.detail
    assert short.certified and full.certified and short.lower_bound == full.lower_bound == 0.0
    assert short.value <= short.atol and full.value <= full.atol


def test_a_positive_minimum_is_not_taken_for_zero():
    """value 0.2585 (random_unit n = 4, 2 latents): the shortcut must not fire; the pieces are enumerated."""
    g = certify_global(random_unit(4, 2, "relu", n_latents=2, seed=0), node_limit=50, incumbent_starts=4)
    assert "trivial_bound" not in g.detail and len(g.pieces) > 1 and g.value > 0.25


def test_explicit_patterns_never_take_the_shortcut():
    inst = random_unit(4, 2, "relu", n_latents=3, seed=0)
    pats = [p.pattern for p in enumerate_pieces(inst, 1e-3)][:2]
    g = certify_global(inst, node_limit=200, patterns=pats)
    assert "trivial_bound" not in g.detail and len(g.pieces) == 2


@pytest.fixture(scope="module")
def zero_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("zero")
    save_instance(random_unit(4, 2, "relu", n_latents=3, seed=0), d / "inst.json")
    out = d / "cert.json.gz"
    assert main(["certify", str(d / "inst.json"), "--certificate", str(out)]) == 0
    return json.loads(gzip.decompress(out.read_bytes()))         # a .gz name is written gzipped


def test_the_checker_accepts_the_trivial_bound_and_nothing_more(zero_cert):
    assert zero_cert["pieces"] == [] and zero_cert["certified"] and zero_cert["lower_bound"] == 0.0
    v = check(zero_cert)
    assert v.valid and v.pieces == 0, v.failures[:3]
    raised = copy.deepcopy(zero_cert)
    raised["lower_bound"] = 1e-300                               # any positive bound needs pieces
    assert not check(raised).valid
    moved = copy.deepcopy(zero_cert)
    moved["minimiser"]["W_D"] = (1.01 * np.asarray(moved["minimiser"]["W_D"])).tolist()   # value no longer 0
    assert not check(moved).valid
    unclaimed = copy.deepcopy(moved)
    unclaimed["certified"] = False                               # a lower bound 0 alone is true
    assert check(unclaimed).valid


def test_all_pieces_on_the_command_line_enumerates(tmp_path, capsys):
    save_instance(random_unit(4, 2, "relu", n_latents=3, seed=0), tmp_path / "inst.json")
    assert main(["certify", str(tmp_path / "inst.json"), "--all-pieces", "--node-limit", "2000",
                 "--json", str(tmp_path / "out.json")]) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["certified"] and len(out["pieces"]) > 1 and "trivial_bound" not in out["detail"]
    assert "pieces (" in capsys.readouterr().out


def test_the_multistart_stops_at_the_first_zero_and_only_then():
    from sdlscape.solvers.certify.incumbent import multistart_incumbent

    inst = random_unit(4, 2, "relu", n_latents=3, seed=0)
    full = multistart_incumbent(inst, 16)
    first = multistart_incumbent(inst, 16, enough=lambda v: v <= 1e-12)
    assert full.starts == 16 and first.starts < 16 and first.value <= 1e-12
    assert len(first.points) <= first.starts
    never = multistart_incumbent(inst, 5, enough=lambda v: False)
    assert never.starts == 5 and never.value == multistart_incumbent(inst, 5).value
    g = certify_global(inst, node_limit=100)
    assert g.detail["incumbent"]["starts"] == first.starts
