"""benchmarks/scip_whole.py: SCIP on the whole problem (all activation patterns) agrees with the certifier.

On small instances SCIP closes its gap within a node budget: its optimal value at feastol 1e-9 must bracket
the certified minimum (dual bound <= certified value, primal >= certified lower bound up to the feasibility
slack), and L~ (eq. 11) recomputed at SCIP's point by the exact evaluator (sigma applied, no pattern given)
must equal SCIP's value and lie above the certified lower bound. Budgets are SCIP nodes; the time limit is a
safety stop only. The frontier's n = 4 instances do not close within a test's budget (SCIP's dual bound stays
far below the minimum: results/landscape/README.md, "SCIP on the whole problem").
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sdlscape.solvers.certify import certify_global
from sdlscape.theory.activations import JumpReLU, TopK
from sdlscape.theory.instance import random_unit
from sdlscape.theory.loss import approx_loss

_spec = importlib.util.spec_from_file_location(
    "scip_whole", Path(__file__).resolve().parents[2] / "benchmarks" / "scip_whole.py")
sw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sw)

SLACK = 1e-8          # feastol 1e-9 on the epigraph and the bilinear rows, summed over a few terms
SAFETY_SECONDS = 600  # a safety stop only: each test's node budget (300-5000) decides; a stop would fail loudly


def _certified(inst):
    g = certify_global(inst, node_limit=20_000)
    assert g.certified and g.minimiser is not None
    return g


def _scip(inst, g, nodes, gap=1e-7):
    pytest.importorskip("pyscipopt")
    B = sw.decoder_box(inst, g.minimiser.minimiser_W_E, g.minimiser.minimiser_W_D)
    return sw.solve(inst, B, feastol=1e-9, gap=gap, node_limit=nodes, time_limit=SAFETY_SECONDS)


def _check_point(inst, g, s):
    """SCIP's point re-evaluates to its value and is no lower than the certified bound; its dual bound is
    no higher than the certified value (the certifier's point lies in SCIP's boxes)."""
    assert s["primal"] is not None
    assert s["loss_at_point"] == pytest.approx(s["primal"], rel=1e-8, abs=SLACK)
    assert s["loss_at_point"] >= g.lower_bound * (1 - 1e-12) - 1e-15
    assert s["dual"] <= g.value + SLACK


def test_normalisation_keeps_the_loss_and_boxes_the_encoder():
    rng = np.random.default_rng(0)
    for act in ("relu", TopK(1)):
        inst = random_unit(4, 2, act, n_latents=2, seed=0)
        W_E, W_D = 3.0 * rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
        E, D = sw.normalise(inst, W_E, W_D)
        assert np.max(np.abs(E)) <= 1.0 + 1e-15
        assert approx_loss(inst, D, E) == pytest.approx(approx_loss(inst, W_D, W_E), rel=1e-12)
    relu = random_unit(4, 2, "relu", n_latents=2, seed=0)
    E, _ = sw.normalise(relu, np.array([[4.0, 1.0], [0.5, -0.25]]), np.ones((2, 2)))
    assert np.allclose(np.max(np.abs(E), axis=1), 1.0)          # per latent for ReLU
    top = random_unit(4, 2, TopK(1), n_latents=2, seed=0)
    E, _ = sw.normalise(top, np.array([[4.0, 1.0], [0.5, -0.25]]), np.ones((2, 2)))
    assert np.allclose(E, np.array([[1.0, 0.25], [0.125, -0.0625]]))   # one common factor for TopK


def test_relu_whole_problem_closes_on_the_certified_minimum():
    inst = random_unit(3, 2, "relu", n_latents=1, seed=0)
    g = _certified(inst)
    s = _scip(inst, g, nodes=5000, gap=1e-4)
    assert s["status"] in ("optimal", "gaplimit")
    assert s["dual"] <= g.value + SLACK and s["primal"] >= g.lower_bound - SLACK
    assert s["primal"] == pytest.approx(g.value, rel=1e-4)
    _check_point(inst, g, s)


def test_relu_two_latents_zero_minimum():
    inst = random_unit(3, 2, "relu", n_latents=2, seed=2)
    g = _certified(inst)
    s = _scip(inst, g, nodes=2000)
    assert s["status"] == "optimal"
    assert abs(s["primal"]) <= SLACK and abs(g.value) <= SLACK
    _check_point(inst, g, s)


def test_plain_topk_point_is_realised():
    inst = random_unit(3, 2, TopK(1), n_latents=2, seed=1)
    g = _certified(inst)
    s = _scip(inst, g, nodes=300)
    _check_point(inst, g, s)
    assert s["primal"] == pytest.approx(g.value, rel=1e-6)


def test_formulates_relu_and_plain_topk_only():
    assert sw.formulated(random_unit(3, 2, "relu", n_latents=2, seed=0))
    assert sw.formulated(random_unit(3, 2, TopK(1), n_latents=2, seed=0))
    assert not sw.formulated(random_unit(3, 2, JumpReLU(0.5), n_latents=2, seed=0))
    pytest.importorskip("pyscipopt")
    with pytest.raises(ValueError, match="jumprelu"):
        sw.build(random_unit(3, 2, JumpReLU(0.5), n_latents=2, seed=0), B=1.0)
