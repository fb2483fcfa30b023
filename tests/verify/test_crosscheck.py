"""Cross-check of gradient training against the landscape (verify/crosscheck.py)."""
import copy
import math

import numpy as np
import pytest

from sdlscape.errors import InputError
from sdlscape.solvers.landscape import map_landscape
from sdlscape.theory.instance import example_3_5, orthogonal
from sdlscape.theory.loss import approx_loss, approx_loss_per_feature
from sdlscape.verify.crosscheck import (
    OUTCOMES,
    boundary_distance,
    classify_points,
    read_masks,
    resample_dead,
    run_crosscheck,
)

TOL = {"margin": 5e-4, "grad_tol": 1e-5, "loss_tol": 1e-6, "eps": 1e-3}


@pytest.fixture(scope="module")
def ex35():
    inst = example_3_5()
    return inst, map_landscape(inst, starts=2, seed=0).to_dict()


@pytest.fixture(scope="module")
def ex35_result(ex35):
    inst, land = ex35
    return run_crosscheck(inst, 300, steps=1500, landscape=land, seed=0)


def test_contract_and_no_disagreement_on_example_3_5(ex35_result):
    r = ex35_result
    assert r["starts"] == 300
    assert set(r["outcomes"]) == set(OUTCOMES)
    assert math.isclose(sum(r["outcomes"].values()), 1.0)
    assert r["disagreements"] == 0
    assert r["agreements"] > 250
    keys = {p["key"]: p for p in r["pieces"]}
    # the paper's spurious partial minimum (one latent for both features, one dead) is reached by gradient descent
    assert keys["[[],[0,1]]"]["counts"]["spurious"] > 0
    assert keys["[[0],[1]]"]["counts"]["global"] > 0
    assert sum(b["starts"] for b in r["by_init"].values()) == 300
    for p in r["pieces"]:
        if p["gd_loss"] and p["landscape_loss"] is not None:
            assert abs(p["gd_loss"]["max"] - p["landscape_loss"]) <= 1e-6


def test_resampling_escapes_the_example_3_5_minimum(ex35_result):
    ex = ex35_result["resampling"]["experiments"]
    stay = [e for e in ex if e["key"] == "[[],[0,1]]" and e["variant"] == "no resampling"]
    assert len(stay) == 1 and stay[0]["grad_norm_start"] < 1e-8
    assert stay[0]["end_piece"] == "[[],[0,1]]" and abs(stay[0]["loss_drop"]) < 1e-8
    big = [e for e in ex if e["key"] == "[[],[0,1]]" and e.get("scale") == 1.0]
    assert big[0]["end_outcome"] == "global" and big[0]["loss_drop"] > 0.99


def test_same_seed_same_distribution(ex35):
    inst, land = ex35
    a = run_crosscheck(inst, 60, steps=600, landscape=land, seed=3, resampling=False)
    b = run_crosscheck(inst, 60, steps=600, landscape=land, seed=3, resampling=False)
    assert a["outcome_counts"] == b["outcome_counts"] and a["pieces"] == b["pieces"]


def test_a_wrong_landscape_value_is_flagged_and_rechecked(ex35):
    inst, land = ex35
    bad = copy.deepcopy(land)
    for p in bad["pieces"]:
        if p["key"] == "[[],[0,1]]":
            p["loss"] = 0.5          # planted error: the true partial-minimum value is 1
    r = run_crosscheck(inst, 200, steps=1500, landscape=bad, seed=0, resampling=False)
    assert r["disagreements"] > 0
    f = [f for f in r["flagged"] if f["piece"] == "[[],[0,1]]"][0]
    assert f["status"] == "disagree" and abs(f["gd_loss"] - 1.0) < 1e-6
    assert f["acs_recheck"]["acs_outcome"] == "partial_optimum"
    assert abs(f["acs_recheck"]["acs_loss"] - 1.0) < 1e-6


def test_boundary_points_are_leaves_region(ex35):
    inst, land = ex35
    # topk_relu(k=1): latents nearly tied for feature 0 -> within the margin of an order boundary
    W_E = np.array([[[1.0, 0.0], [1.0 - 1e-5, 1.0]]])
    W_D = np.eye(2)[None]
    masks = read_masks(inst, W_E)
    dist, keys, _ = boundary_distance(inst, W_E, masks)
    assert dist[0] == pytest.approx(1e-5, rel=1e-6)
    L = np.array([approx_loss(inst, W_D[0], W_E[0])])
    c = classify_points(inst, land, W_E, L, np.array([0.0]), **TOL)
    assert c["outcome"][0] == "leaves_region"
    # the same point moved well inside is matched to its piece
    W_E2 = np.array([[[1.0, 0.0], [0.5, 1.0]]])
    c2 = classify_points(inst, land, W_E2, L, np.array([0.0]), **TOL)
    assert c2["outcome"][0] in ("global", "spurious") and c2["key"][0] == "[[0],[1]]"
    c3 = classify_points(inst, land, W_E2, L, np.array([1.0]), **TOL)
    assert c3["outcome"][0] == "not_converged"


def test_resample_dead_points_at_worst_feature():
    inst = orthogonal(3, "relu", 3)
    W_E = np.array([[1.0, 0, 0], [0, 1.0, 0], [-1.0, -1.0, -1.0]])
    W_D = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 0]]).T
    assert np.argmax(approx_loss_per_feature(inst, W_D, W_E)) == 2
    E2, D2, feats = resample_dead(inst, W_E, W_D, (2,), 0.2)
    assert feats == [2]
    np.testing.assert_allclose(E2[2], [0, 0, 0.2])
    np.testing.assert_allclose(D2[:, 2], [0, 0, 1.0])
    np.testing.assert_allclose(E2[:2], W_E[:2])


def test_bad_input(ex35):
    inst, land = ex35
    with pytest.raises(InputError):
        run_crosscheck(inst, 0, landscape=land)
    with pytest.raises(InputError):
        run_crosscheck(inst, 5, steps=0, landscape=land)
    with pytest.raises(InputError):
        run_crosscheck(orthogonal(3, "relu", 3), 5, landscape=land)
    with pytest.raises(InputError):
        run_crosscheck(inst, 5, landscape={"nope": 1})


def test_bench_resampling_curves_tiny():
    from sdlscape.bench.resampling import bench_resampling
    b = bench_resampling(n=12, d=10, n_latents=48, n_samples=1024, steps=60, resample_every=10, l1_coef=1.0)
    w, wo = b["runs"]["with_resampling"], b["runs"]["without_resampling"]
    assert w["history"]["step"][-1] == wo["history"]["step"][-1] == 60
    assert math.isfinite(w["final_mse_full_data"]) and math.isfinite(wo["final_mse_full_data"])
    assert sum(wo["history"]["resampled"]) == 0
    # same seed, same data: resampling is the only difference between the two runs
    same = sum(w["history"]["resampled"]) == 0
    assert (w["history"]["mse"] == wo["history"]["mse"]) == same


def test_the_resampling_experiment_starts_from_a_balanced_representative():
    """The certifier's interior points sit at ||W_E|| ~ eps, ||W_D|| ~ 1/eps; rescaling by c keeps L~ exactly where
    sigma is positively homogeneous (TopK's ordering included) and is refused for JumpReLU."""
    import numpy as np

    from sdlscape.theory.activations import JumpReLU, TopKReLU
    from sdlscape.theory.instance import Instance
    from sdlscape.theory.loss import approx_loss
    from sdlscape.verify.resampling import balanced_point

    W_E = np.array([[0.0, 0.0], [0.006, 0.002]])
    W_D = np.array([[0.0, 150.0], [0.0, 50.0]])
    for act in ("relu", TopKReLU(k=1)):
        inst = Instance(W_p=np.eye(2), activation=act, n_latents=2)
        E, D = balanced_point(inst, W_E, W_D)
        assert abs(np.linalg.norm(E) - np.linalg.norm(D)) <= 1e-12 * np.linalg.norm(D)
        assert abs(approx_loss(inst, D, E) - approx_loss(inst, W_D, W_E)) <= 1e-12
    jump = Instance(W_p=np.eye(2), activation=JumpReLU(theta=0.5), n_latents=2)
    E, D = balanced_point(jump, W_E, W_D)
    assert E is W_E and D is W_D
