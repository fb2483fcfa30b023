"""Thm 3.8 as written (relu fails, jumprelu holds) and the corrected statement by cones of features."""
import numpy as np

from sdlscape.outcomes import Reading, Status
from sdlscape.theory.activations import JumpReLU, ReLU, TopK, TopKReLU
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.search import recheck
from sdlscape.verify.thm3_8 import angles_instance, separated


def ctx(inst=None, tmp=None):
    return Context(budget="quick", seed=0, instance=inst, counterexample_dir=tmp)


def test_separated_cones():
    W = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]) / np.array([1, 1, np.sqrt(2)])
    assert not separated(W, [2], [0, 1])      # w2 lies in the cone of w0, w1
    assert separated(W, [0], [1])
    assert separated(W, [0, 1], [])
    assert not separated(np.array([[1.0, -1.0]]), [0, 1], [])   # positively dependent: 0 in their cone


def test_thm3_8_relu_fails_jumprelu_holds(tmp_path):
    relu = angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], ReLU(), "a")
    res = check_function("thm3.8")("relu", ctx(relu, tmp_path))
    assert res.status is Status.FAILS and res.counterexample["recheck"]["agrees"] and recheck(res.to_dict())[0]
    jr = relu.with_(activation=JumpReLU(theta=0.5))
    assert check_function("thm3.8")("jumprelu", ctx(jr)).status is Status.HOLDS
    assert check_function("thm3.8")("jumprelu", ctx(), move=True).status is Status.FAILS   # a false statement


def test_thm3_8_topk_def31_and_selection():
    """TopK(2) under Def. 3.1: a feature that fires one latent has every other code <= 0, a ReLU region: it
    fails like relu. TopK(1) in the selection reading orders codes only: the splits are realizable."""
    t = angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], TopK(k=2), "a")
    assert check_function("thm3.8")("topk", ctx(t), Reading.DEF_3_1).status is Status.FAILS
    t1 = t.with_(activation=TopK(k=1))
    assert check_function("thm3.8")("topk", ctx(t1), Reading.SELECTION).status is Status.HOLDS
    assert check_function("thm3.8")("topk", ctx(t1), Reading.DEF_3_1).status is Status.HOLDS


def test_thm3_8_corrected_holds_and_flipped_fails():
    for _act, name in ((ReLU(), "relu"), (TopKReLU(k=1), "topk_relu")):
        res = check_function("thm3.8-corrected")(name, ctx())
        assert res.status is Status.HOLDS and res.evidence["splits"] > 50
        assert sum(t["predicted"] for t in res.evidence["by_region_type"].values()) > 50
    relu = angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], ReLU(), "a")
    bad = check_function("thm3.8-corrected")("relu", ctx(relu), flip=True)
    assert bad.status is Status.FAILS and recheck(bad.to_dict())[0] is False  # the unflipped rule agrees
