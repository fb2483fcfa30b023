"""Thm 3.4's conclusion per part (TopK(1) decoders are forced onto features) and Example 3.5."""
import numpy as np

from sdlscape.outcomes import Status
from sdlscape.theory import instance as I
from sdlscape.theory.activations import TopK, TopKReLU
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.search import recheck
from sdlscape.verify.thm3_4 import forces_decoder, part_status


def ctx(inst=None, tmp=None):
    return Context(budget="quick", seed=0, instance=inst, counterexample_dir=tmp)


def test_thm3_4_relu_holds_for_both_parts_and_false_variant_fails():
    inst = I.orthogonal(2, "relu", n_latents=3)
    res = check_function("thm3.4")("relu", ctx(inst))
    assert res.status is Status.HOLDS and res.evidence["conclusion"] == {"encoder": "holds", "decoder": "holds"}
    assert res.searched.points > 0
    assert check_function("thm3.4")("relu", ctx(inst), statement="forces_recovery").status is Status.FAILS


def test_thm3_4_topk1_decoder_part_fails(tmp_path):
    inst = I.orthogonal(2, TopK(k=1), n_latents=3)
    res = check_function("thm3.4")("topk", ctx(inst, tmp_path))
    assert res.status is Status.FAILS and res.counterexample["part"] == "decoder"
    assert res.evidence["conclusion"] == {"encoder": "holds", "decoder": "fails"}
    ok, detail = recheck(res.to_dict())
    assert ok and detail["min_cosine"] > 1 - 1e-9


def test_forcing_is_decided_by_the_activation():
    assert forces_decoder(I.orthogonal(2, TopK(k=1), n_latents=3))
    assert forces_decoder(I.orthogonal(2, TopKReLU(k=1), n_latents=3))
    assert not forces_decoder(I.orthogonal(2, TopK(k=2), n_latents=3))
    assert not forces_decoder(I.orthogonal(2, "relu", n_latents=3))


def test_part_status_rule():
    row = {"conclusion_applies": True, "decoder_forced": False, "forcing_verified": None,
           "encoder_recovers_none": 1, "decoder_recovers_none": 0}
    assert part_status([row], "encoder") is Status.HOLDS
    assert part_status([row], "decoder") is Status.INCONCLUSIVE
    assert part_status([row | {"decoder_forced": True, "forcing_verified": True}], "decoder") is Status.FAILS
    assert part_status([row | {"conclusion_applies": False}], "encoder") is Status.INCONCLUSIVE
    assert part_status([row, row | {"encoder_recovers_none": 0}], "encoder") is Status.INCONCLUSIVE


def test_ex3_5_holds_and_perturbed_point_fails():
    res = check_function("ex3.5")("topk_relu", ctx())
    assert res.status is Status.HOLDS and res.evidence["exact"]["loss"] == "1"
    assert res.searched.starts >= 4
    W_D = np.array([[0.6, 0.0], [0.4, 0.0]])
    W_E = np.array([[1.0, 1.0], [0.0, 0.0]])
    bad = check_function("ex3.5")("topk_relu", ctx(), point=(W_D, W_E))
    assert bad.status is Status.FAILS and recheck(bad.to_dict())[0]
