"""Second round of tests for surviving mutants of the decision rules (benchmarks/mutation_score.py --only
sdlscape/verify/thm3_3.py sdlscape/verify/thm3_6.py sdlscape/verify/thm3_6_judges.py sdlscape/verify/thm3_8.py):
thm3.3's tolerance on eq. 16, thm3.6's corrected criterion and its joint LP, thm3.8's cone prediction.
Every expected value is derived by hand in the test (closed forms, dyadic numbers where exactness matters)."""
import numpy as np
import pytest

from sdlscape import numerics
from sdlscape.outcomes import Reading
from sdlscape.theory import instance as I
from sdlscape.theory.activations import JumpReLU, TopK, TopKReLU
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.verify import thm3_3, thm3_6, thm3_8
from sdlscape.verify.thm3_6_judges import (
    _rank_full,
    criterion,
    necessity_applies,
    sign_blind_criterion,
)
from sdlscape.verify.thm3_8 import RegionType

TOL = thm3_3.TOL
# two unit features with <w1, w2> = c = 1/2 exactly (dyadic entries: every product below is exact)
W_HALF = np.array([[1.0, 0.5], [0.0, 0.5], [0.0, 0.5], [0.0, 0.5]])


# -- thm3.3: L~ at the construction against eq. 16 ------------------------------------------------------

def _half(act="relu", M=(1.0, 1.0)):
    return I.Instance(W_p=W_HALF, activation=act, n_latents=2, M=list(M))


def test_thm3_3_closed_form_at_the_construction():
    # ReLU passes both codes (1 and c): residual of feature d is -c w_other, so L~ = c^2 sum M;
    # eq. 16: n^2 M^2 sum M = 4 c^2 sum M; the natural bound is the same (c > 0)
    act = I.activation_from("relu")
    r = thm3_3.decide(_half(act, (1.0, 3.0)).with_(name="half"))
    assert r["instance"] == "half"
    assert r["L_approx"] == pytest.approx(0.25 * 4) and r["bound"] == pytest.approx(4 * 0.25 * 4)
    assert r["natural_bound"] == pytest.approx(4.0) and r["M"] == 0.5 and r["activation"] == str(act) != "None"
    assert not r["violated"] and not r["natural_violated"] and r["natural_applies"]
    assert r["diagonal_dropped"] == 0 and r["negative_codes_passed"] == []   # only positive codes pass
    assert thm3_3.decide(_half(act), bound_factor=0.5)["bound"] == pytest.approx(0.5 * 2.0)
    assert thm3_3.decide(_half(act), bound_factor=0.5)["natural_bound"] == pytest.approx(0.5 * 2.0)
    # JumpReLU theta = 1: every diagonal code 1 is dropped, nothing reconstructs: L~ = sum M = 2
    jr = thm3_3.decide(_half(JumpReLU(theta=1.0)))
    assert jr["diagonal_dropped"] == 2 and jr["L_approx"] == pytest.approx(2.0) and not jr["violated"]  # b = 2
    assert not jr["natural_applies"] and not jr["natural_violated"]
    assert thm3_3.decide(_half(JumpReLU(theta=1.0)), bound_factor=0.5)["violated"]
    assert thm3_3.decide(_half(JumpReLU(theta=1.0)), bound_factor=0.1)["natural_violated"] is False  # theta >= 1


def test_thm3_3_zero_codes_and_negative_codes():
    # TopK(2) of 2 latents passes the zero code <e1, e2> = 0: zero is not a negative interference
    assert thm3_3.decide(I.orthogonal(2, TopK(k=2)))["negative_codes_passed"] == []
    # regular simplex in R^3: all 12 off-diagonal codes are -1/3 and TopK(4) of 4 latents passes them all;
    # the record lists 5 of them
    S = np.array([[1, 1, -1, -1], [1, -1, 1, -1], [1, -1, -1, 1]]) / np.sqrt(3.0)
    r = thm3_3.decide(I.Instance(W_p=S, activation=TopK(k=4), n_latents=4))
    assert len(r["negative_codes_passed"]) == 5
    assert all(i != d and g == pytest.approx(-1 / 3) for i, d, g in r["negative_codes_passed"])


@pytest.mark.parametrize("M", [(1.0, 1.0), (10.0, 10.0)])
def test_thm3_3_tolerance_both_sides(M):
    # L~ = B / 4 with B = 4 c^2 sum M (closed form above); choose bound_factor so that the bound b sits
    # delta below L~: violated iff delta > TOL * max(1, b)
    inst = _half("relu", M)
    L, B = 0.25 * sum(M), 4 * 0.25 * sum(M)
    window = TOL * max(1.0, L)
    for frac, violated in ((0.5, False), (0.9, False), (1.5, True), (3.0, True)):
        delta = frac * window
        r = thm3_3.decide(inst, bound_factor=(L - delta) / B)
        assert r["violated"] is violated and r["natural_violated"] is violated, (M, frac)
    if max(M) > 1:   # b = 5: the window is TOL * b, not TOL / b
        assert not thm3_3.decide(inst, bound_factor=(L - 2 * TOL) / B)["violated"]
    # below the bound: never violated, however close
    assert not thm3_3.decide(inst, bound_factor=(L + 0.5 * window) / B)["violated"]


def test_thm3_3_equality_is_not_a_violation():
    # JumpReLU(0.6) drops the codes c = 1/2 and keeps the diagonal ones: L~ = 0 exactly; a bound of
    # -TOL (factor -TOL / B, B = 2) puts b + TOL * max(1, b) at exactly 0 = L~: not exceeded
    r = thm3_3.decide(_half(JumpReLU(theta=0.6)), bound_factor=-TOL / 2)
    assert r["L_approx"] == 0.0 and r["bound"] == -TOL
    assert not r["violated"] and not r["natural_violated"]
    assert thm3_3.decide(_half(JumpReLU(theta=0.6)), bound_factor=-3 * TOL / 2)["violated"]


# -- thm3.6: the corrected criterion ------------------------------------------------------------------

def _codes(piece, W_E):
    return W_E @ piece.instance.W_p


def test_criterion_equal_weights_builds_the_minimal_point():
    # K = I: the eigenspace is R^2 and contains (1, 1); codes s (1, 1) with s >= floor = 1 and the LP
    # minimising s: codes exactly (1, 1); eq. 55 decoder sum_d a_d w_r^d / sum_d a_d^2 = (e1 + e2) / 2
    pc = Piece(I.orthogonal(2, "relu"), Pattern.parse([[0, 1], []], 2, 2))
    c = criterion(pc)
    assert c.kind is thm3_6.Kind.EXISTS and c.necessity_applies is True
    assert c.why == "eigen-codes realizable jointly (LP)"
    assert _codes(pc, c.point[1])[0] == pytest.approx([1.0, 1.0], abs=1e-7)
    assert c.point[0][:, 0] == pytest.approx([0.5, 0.5], abs=1e-7) and c.point[0][:, 1] == pytest.approx([0, 0])
    assert c.latents[0]["latent"] == 0 and c.latents[0]["features"] == [0, 1]
    assert c.latents[0]["eigenvalues"] == pytest.approx([1.0]) and c.latents[0]["positive_eigenvalues"] == pytest.approx([1.0])
    # weights M = 4: the eigen-direction is the same, v = (1, 1), a = v / sqrt(M) = (1/2, 1/2); the codes are
    # scaled so that the smallest is the floor 1: (1, 1) again (a code of 1/4 would sit below the floor)
    p4 = Piece(I.orthogonal(2, "relu", M=[4.0, 4.0]), Pattern.parse([[0, 1], []], 2, 2))
    assert _codes(p4, criterion(p4).point[1])[0] == pytest.approx([1.0, 1.0], abs=1e-7)


def test_criterion_perron_vector_with_unequal_weights():
    # W_p = I, w_r^2 = (0.6, 0.8): G_01 = 0.6; M = (1, 4): K = [[1, 1.2], [1.2, 4]];
    # top eigenvalue lam = 2.5 + sqrt(1.5^2 + 1.2^2), eigenvector (1.2, lam - 1) > 0; the other has mixed signs
    # codes a = v / sqrt(M) = (1.2, (lam - 1) / 2), scaled to min 1 (the floor)
    inst = I.Instance(W_p=np.eye(2), W_r=np.array([[1.0, 0.6], [0.0, 0.8]]), activation="relu", n_latents=2, M=[1, 4])
    pc = Piece(inst, Pattern.parse([[0, 1], []], 2, 2))
    lam = 2.5 + np.sqrt(1.5 ** 2 + 1.2 ** 2)
    lam2 = 5.0 - lam
    a = np.array([1.2, (lam - 1) / 2])
    a = a / a.min()
    c = criterion(pc)
    assert c.kind is thm3_6.Kind.EXISTS
    assert _codes(pc, c.point[1])[0] == pytest.approx(a, rel=1e-6)
    assert c.latents[0]["eigenvalues"] == pytest.approx([lam, lam2])
    assert c.latents[0]["positive_eigenvalues"] == pytest.approx([lam])


def test_criterion_positive_eigenvector_of_the_smaller_eigenvalue():
    # negative correlation G_01 = -0.6, M equal: K = [[1, -0.6], [-0.6, 1]], eigenvalues 1.6 ((1, -1): mixed)
    # and 0.4 ((1, 1): positive) -- only the second eigenspace gives codes, a = (1, 1)
    inst = I.Instance(W_p=np.eye(2), W_r=np.array([[1.0, -0.6], [0.0, 0.8]]), activation="relu", n_latents=2)
    pc = Piece(inst, Pattern.parse([[0, 1], []], 2, 2))
    c = criterion(pc)
    assert c.kind is thm3_6.Kind.EXISTS
    assert c.latents[0]["eigenvalues"] == pytest.approx([1.6, 0.4])
    assert c.latents[0]["positive_eigenvalues"] == pytest.approx([0.4])
    assert _codes(pc, c.point[1])[0] == pytest.approx([1.0, 1.0], abs=1e-7)


def test_criterion_diagonal_K_without_positive_eigenvector():
    # K = diag(1, 4): eigenvectors e2, e1, neither in the open orthant; ReLU codes must be positive: none
    pc = Piece(I.orthogonal(2, "relu", M=[1.0, 4.0]), Pattern.parse([[0, 1], []], 2, 2))
    c = criterion(pc)
    assert c.kind is thm3_6.Kind.NONE and c.necessity_applies is True and c.point is None
    assert c.why == "latents [0]: no eigenvector of K_i in the open positive orthant"
    assert c.latents[0]["eigenvalues"] == pytest.approx([4.0, 1.0]) and c.latents[0]["positive_eigenvalues"] == []
    # the same for TopK(1) o ReLU: its region has "z > 0" rows, so signs are not free
    pr = Piece(I.orthogonal(2, TopKReLU(k=1), M=[1.0, 4.0]), Pattern.parse([[0, 1], []], 2, 2))
    assert criterion(pr).kind is thm3_6.Kind.NONE


def test_criterion_names_only_the_blocked_latent():
    # two live latents: F_0 = {0, 1} with equal weights (K = I: codes (1, 1)), F_1 = {2, 3} with weights (1, 4)
    inst = I.orthogonal(4, "relu", n_latents=2, M=[1.0, 1.0, 1.0, 4.0])
    c = criterion(Piece(inst, Pattern.parse([[0, 1], [2, 3]], 4, 2)))
    assert c.kind is thm3_6.Kind.NONE and c.why == "latents [1]: no eigenvector of K_i in the open positive orthant"
    assert [d["latent"] for d in c.latents] == [0, 1] and c.latents[1]["features"] == [2, 3]
    assert c.latents[0]["positive_eigenvalues"] == pytest.approx([1.0]) and c.latents[1]["positive_eigenvalues"] == []


def test_criterion_two_live_latents_and_a_leading_dead_one():
    # equal weights on each block: codes (1, 1) on F_0 and on F_1, each scale at its floor 1
    inst = I.orthogonal(4, "relu", n_latents=3)
    pc = Piece(inst, Pattern.parse([[], [0, 1], [2, 3]], 4, 3))
    c = criterion(pc)
    assert c.kind is thm3_6.Kind.EXISTS and [d["latent"] for d in c.latents] == [1, 2]
    Z = _codes(pc, c.point[1])
    assert Z[1, [0, 1]] == pytest.approx([1.0, 1.0], abs=1e-7) and Z[2, [2, 3]] == pytest.approx([1.0, 1.0], abs=1e-7)
    assert pc.contains(c.point[1])
    # eq. 55 per latent: (e1 + e2) / 2 and (e3 + e4) / 2
    assert c.point[0][:, 1] == pytest.approx([0.5, 0.5, 0, 0], abs=1e-7)
    assert c.point[0][:, 2] == pytest.approx([0, 0, 0.5, 0.5], abs=1e-7)


@pytest.mark.parametrize("theta", [0.5, 2.0])
def test_criterion_floor_above_the_threshold(theta):
    # JumpReLU: codes s (1, 1), s >= max(1, theta + 2 eps); the region asks s >= theta + 1.5 eps, the floor is
    # higher, so the minimal scale is the floor
    pc = Piece(I.orthogonal(2, JumpReLU(theta=theta)), Pattern.parse([[0, 1], []], 2, 2))
    c = criterion(pc)
    s = max(1.0, theta + 2 * pc.margin)
    assert c.kind is thm3_6.Kind.EXISTS
    assert _codes(pc, c.point[1])[0] == pytest.approx([s, s], abs=1e-7)


def test_criterion_topk_relu_floor_is_one():
    # TopK(1) o ReLU is not separable (no threshold): floor 1
    pc = Piece(I.orthogonal(2, TopKReLU(k=1)), Pattern.parse([[0, 1], []], 2, 2))
    c = criterion(pc)
    assert c.kind is thm3_6.Kind.EXISTS and _codes(pc, c.point[1])[0] == pytest.approx([1.0, 1.0], abs=1e-7)


def test_criterion_sign_free_uses_the_top_eigenvector():
    # plain TopK(1), selection reading (orders only): no positive eigenvector needed. W_p = I_3,
    # w_r^2 = (-0.6, 0.8, 0), M = (1, 4, 1/4): K = [[1, -1.2, 0], [-1.2, 4, 0], [0, 0, 1/4]]; eigenvectors
    # (-1.2, lam - 1, 0), (lam2 - 1, ... ) with a zero entry, e3: none in the open orthant. Top: lam; codes
    # a = v / sqrt(M) scaled to max |a| = 1 (up to the eigenvector's sign)
    W_r = np.array([[1.0, -0.6, 0.0], [0.0, 0.8, 0.0], [0.0, 0.0, 1.0]])
    inst = I.Instance(W_p=np.eye(3), W_r=W_r, activation=TopK(k=1), n_latents=2, M=[1.0, 4.0, 0.25])
    pc = Piece(inst, Pattern.parse([[0, 1, 2], []], 3, 2), reading=Reading.SELECTION)
    lam = 2.5 + np.sqrt(1.5 ** 2 + 1.2 ** 2)
    a = np.array([-1.2, (lam - 1) / 2, 0.0])
    a = a / np.abs(a).max()
    c = criterion(pc)
    assert c.kind is thm3_6.Kind.EXISTS
    z = _codes(pc, c.point[1])[0]
    assert z == pytest.approx(a, abs=1e-6) or z == pytest.approx(-a, abs=1e-6)
    assert c.latents[0]["positive_eigenvalues"] == pytest.approx([lam])
    # with a positive eigenvector (K = I) it is the only option: no sign-free extra
    eq = Piece(I.orthogonal(2, TopK(k=1)), Pattern.parse([[0, 1], []], 2, 2), reading=Reading.SELECTION)
    assert criterion(eq).latents[0]["positive_eigenvalues"] == pytest.approx([1.0])


def _pair_half_gram():
    # three unit vectors with pairwise <w_r^i, w_r^j> = 1/2: G = (I + 11^T) / 2
    y = 1 / (2 * np.sqrt(3.0))
    return np.array([[1.0, 0.5, 0.5], [0.0, np.sqrt(0.75), y], [0.0, 0.0, np.sqrt(1 - 0.25 - y * y)]])


def test_criterion_codes_not_jointly_realizable_with_rank_deficient_W_p():
    # K = G has eigenvalues 2 ((1, 1, 1)) and 1/2 (sum-zero plane: no positive vector): codes s (1, 1, 1).
    # W_p: features at 0, 90 and 45 degrees, so z_2 = (z_0 + z_1) / sqrt(2) = sqrt(2) s != s: infeasible.
    # rank W_p[:, F] = 2 < 3: (ii) does not apply
    t = np.radians([0.0, 90.0, 45.0])
    inst = I.Instance(W_p=np.vstack([np.cos(t), np.sin(t)]), W_r=_pair_half_gram(), activation="relu", n_latents=2)
    pc = Piece(inst, Pattern.parse([[0, 1, 2], []], 3, 2))
    c = criterion(pc)
    assert c.kind is thm3_6.Kind.NONE and c.necessity_applies is False and c.point is None
    assert c.why == "eigen-codes of the latents are not jointly realizable in the region (LP)"
    assert c.latents[0]["eigenvalues"] == pytest.approx([2.0, 0.5])
    assert c.latents[0]["positive_eigenvalues"] == pytest.approx([2.0])
    # the same codes with W_p = I_3 (full rank): realizable, codes (1, 1, 1)
    full = Piece(inst.with_(W_p=np.eye(3)), Pattern.parse([[0, 1, 2], []], 3, 2))
    cf = criterion(full)
    assert cf.kind is thm3_6.Kind.EXISTS and cf.necessity_applies is True
    assert _codes(full, cf.point[1])[0] == pytest.approx([1.0, 1.0, 1.0], abs=1e-7)


def test_criterion_not_applicable_fields():
    c = criterion(Piece(I.orthogonal(3, "relu"), Pattern.parse([[0, 1], [1, 2], []], 3, 3)))
    assert c.kind is thm3_6.Kind.NOT_APPLICABLE and c.necessity_applies is False and c.point is None
    assert c.why == "not a partition of a linear piece"


def test_necessity_and_rank_rules():
    # features at 0, 90, 45 degrees: each block of [[0, 1], [2], []] has full column rank but W_p (2 x 3) has not;
    # ReLU has non-strict rows "z <= 0": (ii) does not apply
    t = np.radians([0.0, 90.0, 45.0])
    inst = I.Instance(W_p=np.vstack([np.cos(t), np.sin(t)]), activation="relu", n_latents=3)
    assert not necessity_applies(Piece(inst, Pattern.parse([[0, 1], [2], []], 3, 3)))
    assert necessity_applies(Piece(I.orthogonal(3, "relu"), Pattern.parse([[0, 1], [2], []], 3, 3)))
    # rank with tolerance RANK_REL * max(1, max |A|)
    r = numerics.RANK_REL
    assert _rank_full(np.diag([1.0, 1.5 * r])) and not _rank_full(np.diag([1.0, 0.5 * r]))
    assert not _rank_full(np.diag([10.0, 5 * r])) and _rank_full(np.diag([10.0, 20 * r]))


def test_sign_blind_point_is_the_top_eigenvector_everywhere():
    # W_p = I: W_E = Z; dead latents code -1 on every feature; latent 0: top eigenvector of K scaled to max |.| = 1
    un = Piece(I.orthogonal(2, "relu", M=[1.0, 2.0]), Pattern.parse([[0, 1], []], 2, 2))
    W_E = sign_blind_criterion(un).point[1]
    assert W_E[1] == pytest.approx([-1.0, -1.0]) and np.abs(W_E[0]) == pytest.approx([0.0, 1.0])
    # the Perron case: a = (1.2, (lam - 1) / 2) / max
    inst = I.Instance(W_p=np.eye(3), W_r=np.array([[1.0, 0.6, 0.0], [0.0, 0.8, 0.0], [0.0, 0.0, 1.0]]),
                      activation="relu", n_latents=2, M=[1, 4, 1])
    lam = 2.5 + np.sqrt(1.5 ** 2 + 1.2 ** 2)
    a = np.array([1.2, (lam - 1) / 2])
    W_E = sign_blind_criterion(Piece(inst, Pattern.parse([[0, 1], [2]], 3, 2))).point[1]
    assert np.abs(W_E[0, :2]) == pytest.approx(a / a.max()) and W_E[0, 2] == -1.0 and np.abs(W_E[1]) == pytest.approx([1, 1, 1])
    assert W_E[1, :2] == pytest.approx([-1.0, -1.0])


def test_partition_patterns_count_and_shape():
    # every set partition of [4] but the one into singletons: Bell(4) - 1 = 14; each with n_latents sets
    inst = I.orthogonal(4, "relu")
    pats = thm3_6.partition_patterns(inst)
    assert len(pats) == 14 and all(len(p.sets) == inst.n_latents for p in pats)


# -- thm3.8: the cone prediction ------------------------------------------------------------------------

def _angles(deg, parents):
    return thm3_8.angles_instance(deg, parents, I.activation_from("relu"), "t")


def _split(inst, p, j):
    P = thm3_8.parent_pattern(inst)
    sets = list(P.sets)
    sets[p] = sets[p] - {j}
    sets[-1] = frozenset({j})
    return Pattern(tuple(sets), inst.n)


def test_angles_instance_and_patterns():
    inst = _angles([0, 90, 180, 270], [[0, 1], [2, 3]])
    assert inst.name == "t" and inst.W_p == pytest.approx(np.array([[1, 0, -1, 0], [0, 1, 0, -1]]), abs=1e-12)
    P = thm3_8.parent_pattern(inst)
    assert P.n == 4 and P.sets == (frozenset({0, 1}), frozenset({2, 3}), frozenset())
    Q = thm3_8.move_pattern(P, 0, 1, 1)
    assert Q.n == 4 and Q.sets == (frozenset({0}), frozenset({1, 2, 3}), frozenset())


CONE_CASES = [
    # features 0: 0, 1: 120, 2: 240, 3: 260 degrees; split 0 off parent 0: sets {1}, {2, 3}, {0}.
    # {120} vs cone(0, 240, 260) = arc 240..360: apart; arc 240..260 vs arc 0..120: apart;
    # {0} vs arc 120..260: apart. Every set separated from the rest: realizable in every reading that claims.
    ([0, 120, 240, 260], 0, 0, {RegionType.CONE: {"predicted": True, "relu_condition": True},
                                RegionType.ORDERING: {"predicted": True, "relu_condition": True, "pairwise": True},
                                RegionType.THRESHOLD: {"predicted": None}}),
    # same features, split 2 off parent 1: sets {0, 1}, {3}, {2}; cone(0, 120, 240) is the plane (gaps of
    # 120 degrees), so {260} is not separated from the rest; but arc 0..120, {260}, {240} are pairwise apart
    ([0, 120, 240, 260], 1, 2, {RegionType.CONE: {"predicted": False, "relu_condition": False},
                                RegionType.ORDERING: {"predicted": None, "relu_condition": False, "pairwise": True}}),
    # features 0: 0, 1: 120, 2: 60, 3: 200 degrees; split 3 off parent 1: sets {0, 1}, {2}, {3}:
    # 60 lies in arc 0..120, so {2} meets cone{0, 1}: not pairwise separated, predicted unrealizable
    ([0, 120, 60, 200], 1, 3, {RegionType.ORDERING: {"predicted": False, "relu_condition": False, "pairwise": False},
                               RegionType.CONE: {"predicted": False, "relu_condition": False}}),
]


@pytest.mark.parametrize("angles, parent, feature, expected", CONE_CASES,
                         ids=["relu_condition_holds", "relu_condition_fails_pairwise_holds", "pairwise_fails"])
def test_cone_prediction(angles, parent, feature, expected):
    inst = _angles(angles, [[0, 1], [2, 3]])
    P = _split(inst, parent, feature)
    for kind, want in expected.items():
        assert thm3_8.cone_prediction(inst, P, kind) == want, kind
