"""Thm 3.6 under the selection reading: a latent selected with codes exactly 0 and a zero decoder column is a
partial optimum with positive loss (verify/thm3_6_zero_codes.py). The full budget's one inconclusive row
(thm3.6/topk/selection, draw-0-1: features 0 and 2 identical, pattern [[1],[0,2],[3],[]]) is decided by it."""
from fractions import Fraction

import numpy as np

from sdlscape.outcomes import Reading
from sdlscape.solvers.certificate import certify_point
from sdlscape.theory.activations import TopK
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece
from sdlscape.verify import thm3_6, thm3_6_judges
from sdlscape.verify.thm3_6_zero_codes import applies, zero_code_judge, zero_code_point

S5 = 1 / np.sqrt(5)
# draw-0-1 of the full budget's random draws (seed 0): columns 0 and 2 identical
DRAW_0_1 = Instance(W_p=np.array([[-2 / 3, -2 / 3, -2 / 3, -2 * S5], [2 / 3, 1 / 3, 2 / 3, 0.0],
                                  [1 / 3, 2 / 3, 1 / 3, S5]]),
                    activation=TopK(k=1), n_latents=4, M=np.array([2.0, 2.0, 3.0, 1.0]), name="draw-0-1")
PATTERN = [[1], [0, 2], [3], []]


def _piece(inst=DRAW_0_1, pattern=PATTERN, reading=Reading.SELECTION):
    return Piece(inst, Pattern.parse(pattern, inst.n, inst.n_latents), thm3_6.EPS, reading)


def test_the_zero_code_point_is_exact_and_exhibits_the_pattern():
    piece = _piece()
    rows = zero_code_point(piece)
    assert rows is not None and all(isinstance(x, Fraction) for row in rows for x in row)
    W_p = [[Fraction(float(x)) for x in col] for col in DRAW_0_1.W_p.T]
    codes = [[sum(w * p for w, p in zip(row, col)) for col in W_p] for row in rows]
    for i, F in enumerate(PATTERN):
        for d in F:
            assert codes[i][d] == 0                                    # exactly, in rationals
            assert all(codes[j][d] < 0 for j in range(4) if j != i)    # the selected latent ranks first
    W_E = np.array(rows, dtype=float)
    assert piece.reads_back(W_E)


def test_the_zero_code_point_is_a_partial_optimum_with_the_stated_loss():
    z = zero_code_judge(_piece())
    assert z["exists"] is True and z["loss"] == 8.0                    # sum_d M_d ||w_r^d||^2
    # independently: at W_D = 0 every block re-solve finds nothing lower (the decoder sees codes 0 up to rounding)
    W_E, W_D = np.array(z["W_E"]), np.zeros((3, 4))
    c = certify_point(_piece(), W_D, W_E)
    assert abs(c.loss - 8.0) <= 1e-12 and c.encoder_gap <= 1e-9


def test_decide_finds_the_positive_loss_optimum_the_eigen_point_missed():
    ev = thm3_6.decide(_piece(), starts=4, seed=0).to_dict()
    judges = {j["judge"]: j for j in ev["judges"]}
    assert judges["certificate"]["loss"] <= 1e-12 and judges["certificate"]["exists"] is None   # zero loss
    assert ev["verdict"] == "exists" and judges["zero_codes"]["exists"] is True and ev["loss"] == 8.0
    # without the zero-code judge the pattern is the zero-loss case that left the row inconclusive
    only = {k: v for k, v in thm3_6_judges.JUDGES.items() if k != "zero_codes"}
    assert thm3_6.decide(_piece(), starts=4, seed=0, judges=only).to_dict()["verdict"] == "zero_loss"


def test_codes_that_must_be_positive_have_no_zero_code_point():
    assert not applies(_piece(reading=Reading.DEF_3_1))
    assert zero_code_point(_piece(reading=Reading.DEF_3_1)) is None and zero_code_judge(_piece(reading=Reading.DEF_3_1)) is None
    relu = Instance(W_p=np.eye(2), activation="relu", n_latents=2)
    assert zero_code_judge(Piece(relu, Pattern.parse([[0, 1], []], 2, 2), thm3_6.EPS)) is None


def test_no_zero_code_point_where_a_latent_s_features_span_the_space():
    # latent 0 selects e1 and e2, so its row must be 0; then its code on f = -(e1 + e2)/sqrt 2 is 0 and cannot rank
    # below latent 1's selected code 0 there. The region itself is not empty (w_E^0 = (1, 1), w_E^1 = 0).
    s = 1 / np.sqrt(2)
    inst = Instance(W_p=np.array([[1.0, 0.0, -s], [0.0, 1.0, -s]]), activation=TopK(k=1), n_latents=2)
    piece = Piece(inst, Pattern.parse([[0, 1], [2]], 3, 2), thm3_6.EPS, Reading.SELECTION)
    assert piece.reads_back(np.array([[1.0, 1.0], [0.0, 0.0]]))
    assert applies(piece) and zero_code_point(piece) is None
    assert zero_code_judge(piece)["exists"] is None


def test_ii_does_not_claim_none_where_a_zero_code_point_exists(monkeypatch):
    # positively correlated features, unequal weights: every K_i has a simple positive top eigenvector, so the
    # criterion's search is exhaustive and (ii) applies; force its eigen-codes to be unrealizable
    W = np.array([[1.0, 0.6, 0.5], [0.0, 0.8, 0.1], [0.0, 0.0, 0.86]])
    inst = Instance(W_p=W / np.linalg.norm(W, axis=0), activation=TopK(k=1), n_latents=3, M=np.array([1.0, 2.0, 3.0]))
    piece = Piece(inst, Pattern.parse([[0, 1], [2], []], 3, 3), thm3_6.EPS, Reading.SELECTION)
    monkeypatch.setattr(thm3_6_judges, "_joint_point", lambda piece, choice: None)
    assert zero_code_point(piece) is not None
    crit = thm3_6_judges.criterion(piece)
    assert crit.kind is thm3_6_judges.Kind.NONE and not crit.necessity_applies
    monkeypatch.setattr(thm3_6_judges, "zero_code_point", lambda piece: None)
    assert thm3_6_judges.criterion(piece).necessity_applies


# ---------------------------------------------------------------- rules found untested by mutation (mutmut)

def test_the_judges_record_carries_the_exact_point_and_its_proof():
    z = zero_code_judge(_piece())
    assert set(z) == {"exists", "loss", "W_E", "W_D", "W_E_exact", "proof"}
    exact = [[Fraction(x) for x in row] for row in z["W_E_exact"]]
    assert exact == zero_code_point(_piece()) and np.array_equal(np.array(z["W_E"]), np.array(exact, dtype=float))
    assert np.array_equal(np.array(z["W_D"]), np.zeros((3, 4))) and "W_D = 0" in z["proof"]
    s = 1 / np.sqrt(2)
    inst = Instance(W_p=np.array([[1.0, 0.0, -s], [0.0, 1.0, -s]]), activation=TopK(k=1), n_latents=2)
    none = zero_code_judge(Piece(inst, Pattern.parse([[0, 1], [2]], 3, 2), thm3_6.EPS, Reading.SELECTION))
    assert none == {"exists": None, "reason": "no encoder of the region has all selected codes 0 (LP with margin 1)"}


def test_no_free_coordinates_at_all_is_handled_exactly():
    # n_p = 1, features +1 and -1 on two latents: each row must be 0, so both codes are 0 and neither latent ranks
    # strictly first: no point (and no crash on an LP with no variables)
    inst = Instance(W_p=np.array([[1.0, -1.0]]), activation=TopK(k=1), n_latents=2)
    piece = Piece(inst, Pattern.parse([[0], [1]], 2, 2), thm3_6.EPS, Reading.SELECTION)
    assert applies(piece) and zero_code_point(piece) is None


def test_a_point_on_a_strict_row_is_rejected_by_the_exact_check(monkeypatch):
    # the LP is replaced by one that returns the boundary point y = 0 (all codes 0): every strict row then holds
    # with equality, which the rational re-check must refuse
    import types

    from sdlscape.verify import thm3_6_zero_codes as zc

    monkeypatch.setattr(zc, "linprog", lambda c, **kw: types.SimpleNamespace(status=0, x=np.zeros(len(c))))
    assert zc.zero_code_point(_piece()) is None


def test_the_check_on_draw_0_1_holds_by_the_zero_code_point_and_counts_it():
    """Thm 3.6 as written on the full budget's draw-0-1 alone: every realizable pattern has a positive-loss partial
    optimum under the selection reading, one of them only by the zero-code point; without that judge the same
    check is inconclusive (the row the full budget printed before)."""
    from sdlscape.outcomes import Status
    from sdlscape.verify.claims import Context, check_function

    res = check_function("thm3.6")("topk", Context(instance=DRAW_0_1), Reading.SELECTION)
    assert res.status is Status.HOLDS and res.evidence["exists_by_zero_codes"] >= 1
    only = {k: v for k, v in thm3_6_judges.JUDGES.items() if k != "zero_codes"}
    res = check_function("thm3.6")("topk", Context(instance=DRAW_0_1), Reading.SELECTION, judges=only)
    assert res.status is Status.INCONCLUSIVE and res.evidence["exists_by_zero_codes"] == 0
