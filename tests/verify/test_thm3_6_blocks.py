"""Thm 3.6: witness points inside their regions (plain TopK passes a dead latent's codes), and the necessity
argument per latent block (issue 23)."""
import numpy as np

from sdlscape.outcomes import InconclusiveReason, Reading, Status
from sdlscape.theory import instance as I
from sdlscape.theory.activations import ReLU, TopK
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.verify import thm3_6
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.search import obtuse, recheck
from sdlscape.verify.thm3_6_judges import Kind, criterion, eq55_decoder, latent_free, necessity_applies

# the full budget's false counterexample to thm3.6-corrected (TopK(2) of 2 latents, Def. 3.1)
TOPK2 = Instance(W_p=np.array([[0.0, 0.7071067811865475], [-1.0, 0.7071067811865475]]), M=[3.0, 2.0],
                 activation=TopK(k=2), n_latents=2, name="topk2-of-2")

# rank-deficient W_p (4 features in R^3): an orthogonal block {0, 1} with weights (1, 4), features 2, 3 = +-e3
BLOCK = Instance(W_p=np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, -1.0]]), M=[1.0, 4.0, 1.0, 1.0],
                 activation=ReLU(), n_latents=4, name="free-block-rank-deficient")


def ctx(inst):
    return Context(budget="quick", seed=0, instance=inst)


# the full budget's false counterexample to thm3.6-corrected at round 3 (TopK(3) of 3 latents, Def. 3.1)
OBTUSE3 = obtuse(3, 0.1, TopK(k=3))


def test_a_piece_that_passes_codes_outside_its_pattern_is_outside_the_eigen_analysis():
    """Plain TopK(k of k) passes every code, the non-positive ones too, so L~ on the piece does not decouple by
    latent: the criterion must say not applicable (it used to pin those codes at 0 and claim a partial optimum)."""
    for inst, sets in ((TOPK2, [[0, 1], []]), (OBTUSE3, [[0, 1], [2], []])):
        pc = Piece(inst, Pattern.parse(sets, inst.n, inst.n_latents), reading=Reading.DEF_3_1)
        assert pc.linear and (pc.loss_mask & ~pc.mask).any()
        c = criterion(pc)
        assert c.kind is Kind.NOT_APPLICABLE and c.point is None and "outside the pattern" in c.why
    # the pinned eigen point of OBTUSE3 is no partial optimum: latent 1's passed code on feature 0 can go
    # negative and lower L~ (its decoder column meets feature 0's residual at a negative inner product)
    pc = Piece(OBTUSE3, Pattern.parse([[0, 1], [2], []], 3, 3), reading=Reading.DEF_3_1)
    W_E = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]) @ np.linalg.inv(OBTUSE3.W_p)
    W_D = eq55_decoder(OBTUSE3, W_E, pc.pattern)
    base = pc.loss(W_D, W_E)
    step = np.zeros_like(W_E)
    step[1] = -1e-3 * np.linalg.solve(OBTUSE3.W_p.T, np.eye(3)[0])   # z_10 -> -1e-3, other codes unchanged
    assert pc.contains(W_E + step) and pc.loss(W_D, W_E + step) < base - 1e-5
    # and the corrected check no longer reports it as a counterexample
    res = check_function("thm3.6-corrected")("topk", ctx(OBTUSE3), Reading.DEF_3_1)
    assert res.status is not Status.FAILS


def test_necessity_per_latent_block_with_rank_deficient_W_p():
    P = Pattern.parse([[0, 1], [2], [3], []], 4, 4)
    pc = Piece(BLOCK, P)
    assert np.linalg.matrix_rank(BLOCK.W_p) == 3 < BLOCK.n and not necessity_applies(pc)
    assert latent_free(pc, 0) and not latent_free(pc, 3)
    c = criterion(pc)
    assert c.kind is Kind.NONE and c.necessity_applies is True and c.latents[0]["block_free"] is True
    res = check_function("thm3.6")("relu", ctx(BLOCK))
    assert res.status is Status.FAILS and res.rests_on and res.rests_on[0].startswith("weights: unequal M_d")
    ok, detail = recheck(res.to_dict())
    assert ok and detail["exact_no_positive_eigenvector"]


def test_a_block_sharing_its_span_is_not_free():
    # feature 2 = (e1 + e2)/sqrt(2) lies in the span of block {0, 1}: a multiplier on z_02 <= 0 can balance the
    # block's gradient, so (ii) says nothing and the statement as written is not refuted by the criterion alone
    W = np.array([[1.0, 0, 1 / np.sqrt(2)], [0, 1.0, 1 / np.sqrt(2)]])
    inst = Instance(W_p=W, M=[1.0, 4.0, 1.0], activation=ReLU(), n_latents=3, name="shared-span")
    pc = Piece(inst, Pattern.parse([[0, 1], [2], []], 3, 3))
    assert not latent_free(pc, 0)
    c = criterion(pc)
    assert c.kind is Kind.NONE and c.necessity_applies is False
    out = thm3_6.decide(pc, 4, 0)
    assert out.verdict is not thm3_6.Verdict.NONE


def test_inconclusive_carries_a_typed_reason():
    inst = I.orthogonal(2, ReLU(), n_latents=1, name="too-few-latents")
    assert check_function("thm3.6")("relu", ctx(inst)).status is Status.NOT_APPLICABLE
    res = check_function("thm3.6")("relu", ctx(BLOCK.with_(M=np.ones(4))))
    if res.status is Status.INCONCLUSIVE:
        assert res.evidence["reason"] in {r.value for r in InconclusiveReason}


def test_a_point_that_does_not_read_back_leaves_the_criterion_undecided(monkeypatch):
    """The floating-point band: the LP says t* > 0 but no returned point reads back; the criterion must not
    claim `none` (necessity off, so thm3.6-corrected cannot fail on it) and the run goes on."""
    from sdlscape.verify import thm3_6_judges as J

    inst = I.orthogonal(2, ReLU(), n_latents=2, name="orthogonal-n2")
    pc = Piece(inst, Pattern.parse([[0, 1], []], 2, 2), reading=Reading.DEF_3_1)
    monkeypatch.setattr(J, "_reads_back", lambda piece, W_E: False)
    c = criterion(pc)
    assert c.kind is Kind.NONE and not c.necessity_applies and c.why.startswith("fp band")
    assert thm3_6.decide(pc, 2, 0).verdict is not thm3_6.Verdict.NONE
