"""The Piece type: validation, region, realizability, linear parts of Def. 3.1 TopK pieces, per-latent matrices."""
import numpy as np
import pytest

from sdlscape.errors import InputError
from sdlscape.outcomes import Feasibility, Reading
from sdlscape.theory.activations import JumpReLU, ReLU, TopK, TopKReLU
from sdlscape.theory.instance import Instance, example_3_5, orthogonal, random_unit
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern, read_pattern
from sdlscape.theory.piece import Piece, linear_piece
from sdlscape.theory.region import ConstraintKind, check_farkas


def _p(inst, obj):
    return Pattern.parse(obj, inst.n, inst.n_latents)


def test_validation_names_the_problem():
    inst = example_3_5()
    P = _p(inst, [[0, 1], []])
    with pytest.raises(InputError, match="a Piece needs a sdlscape Instance"):
        Piece("inst", P)
    with pytest.raises(InputError, match=r"a Piece needs a sdlscape Pattern \(Pattern.parse"):
        Piece(inst, [[0, 1], []])
    for bad in (0, -1e-3, float("inf"), float("nan"), True, "0.1"):
        with pytest.raises(InputError, match="the margin eps must be finite and positive"):
            Piece(inst, P, bad)
    with pytest.raises(InputError, match="pattern is over 3 features but the instance has 2"):
        Piece(inst, Pattern((frozenset({0}), frozenset()), 3))
    with pytest.raises(InputError, match="pattern has 1 latent sets but the instance has n_latents = 2"):
        Piece(inst, Pattern((frozenset({0, 1}),), 2))
    with pytest.raises(InputError, match="feature 0 activates 2 latents, more than k = 1"):
        Piece(inst, _p(inst, [[0, 1], [0]]))
    with pytest.raises(InputError, match="`fired` refines a selection-reading piece"):
        Piece(inst, P, fired=_p(inst, [[0], []]))                                   # Def. 3.1 piece
    topk = orthogonal(2, TopK(k=1), n_latents=2)
    with pytest.raises(InputError, match="`fired` refines"):
        Piece(topk, _p(topk, [[0], [1]]), reading=Reading.SELECTION, fired=_p(topk, [[1], []]))   # not a subset
    ok = Piece(topk, _p(topk, [[0], [1]]), reading=Reading.SELECTION, fired=_p(topk, [[0], []]))
    assert ok.fired == _p(topk, [[0], []])


def test_margin_and_reading_are_normalised():
    inst = example_3_5()
    pc = Piece(inst, _p(inst, [[0, 1], []]), 1, "selection")
    assert isinstance(pc.margin, float) and pc.margin == 1.0 and pc.reading is Reading.SELECTION
    assert pc.to_dict() == {"pattern": [[0, 1], []], "eps": 1.0, "reading": "selection"}
    assert "reading=selection" in repr(pc) and "eps=1" in repr(pc)


def test_region_realizability_and_witness_read_back():
    inst = random_unit(4, 3, ReLU(), n_latents=2, seed=5)
    W_E = np.random.default_rng(0).standard_normal((2, 3))
    P = read_pattern(inst, W_E)
    pc = Piece(inst, P)
    assert pc.contains(W_E / 1e-9 * 1e-3, tol=1e-9) or pc.region.contains(W_E * 1e4)
    rz = pc.realizability
    assert rz.status is Feasibility.REALIZABLE and pc.realizable and rz.eps == pc.margin
    assert pc.reads_back(rz.witness) and pc.contains(rz.witness, tol=1e-7)
    d = rz.to_dict()
    assert d["realizable"] is True and d["status"] == "realizable" and d["certificate"] is None
    assert np.array(d["witness"]).shape == (2, 3) and d["eps"] == pc.margin and "exact rationals" in d["detail"]


def test_unrealizable_piece_has_a_checked_certificate():
    ang = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
    inst = Instance(W_p=np.stack([np.cos(ang), np.sin(ang)]), activation=ReLU(), n_latents=1)
    pc = Piece(inst, _p(inst, [[0, 1, 2]]))
    rz = pc.realizability
    assert rz.status is Feasibility.UNREALIZABLE and not pc.realizable and rz.witness is None
    assert check_farkas(pc.region, rz.certificate)
    d = rz.to_dict()
    assert d["realizable"] is False and d["witness"] is None and d["status"] == "unrealizable"
    assert len(d["certificate"]["farkas_y"]) == pc.region.n_rows and "strict row" in d["certificate"]["meaning"]
    assert d["certificate"]["kind"] == "motzkin"


def test_reads_back_distinguishes_patterns_and_fired_sets():
    topk = orthogonal(2, TopK(k=2), n_latents=3)
    S = _p(topk, [[0, 1], [0], [1]])                  # feature 0 passes latents 0, 1; feature 1 passes 0, 2
    part = Piece(topk, S, reading=Reading.SELECTION, fired=_p(topk, [[0, 1], [], []]))
    W = np.array([[1.0, 1.0], [-0.5, -2.0], [-2.0, -0.5]])   # passed codes of latents 1, 2 are negative
    assert part.reads_back(W)
    W_pos = W.copy()
    W_pos[1, 0] = 0.5                                  # latent 1 now fires for feature 0
    assert read_pattern(topk, W_pos, Reading.SELECTION) == S and not part.reads_back(W_pos)
    assert not part.reads_back(np.array([[1.0, 1.0], [-2.0, -0.5], [-0.5, -2.0]]))   # another selection


def test_def31_plain_topk_piece_is_a_union_of_its_linear_parts():
    topk = random_unit(3, 2, TopK(k=2), n_latents=3, seed=1)
    P = _p(topk, [[0], [], [1, 2]])                    # each feature fires one latent, k = 2 passes two
    pc = Piece(topk, P)
    assert not pc.linear
    with pytest.raises(InputError, match="union of linear pieces"):
        pc.loss_mask  # noqa: B018
    parts = pc.parts()
    assert len(parts) == 2 ** 3                         # each feature: which of the 2 other latents passes
    for part in parts:
        assert part.linear and part.reading is Reading.SELECTION and part.fired == P
        assert np.all(part.loss_mask.sum(axis=0) == 2) and np.all(part.loss_mask >= P.mask)
        assert part.margin == pc.margin
    # the parts cover the piece: a random point of the Def. 3.1 region lies in exactly one part
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(300):
        W = rng.standard_normal((3, 2))
        if read_pattern(topk, W) != P:
            continue
        inside = [q for q in parts if q.contains(W, tol=0.0)]
        assert len(inside) <= 1
        if inside:   # off the part boundaries (margin): sigma is the part's linear map there
            hits += 1
            q = inside[0]
            W_D = rng.standard_normal((2, 3))
            assert q.loss(W_D, W) == pytest.approx(approx_loss(topk, W_D, W), rel=1e-12, abs=1e-12)
    assert hits > 0
    assert Piece(topk, _p(topk, [[0, 1], [0, 2], [1, 2]])).linear      # k fired everywhere: one part
    relu = example_3_5().with_(activation=ReLU())
    lin = Piece(relu, _p(relu, [[0, 1], []]))
    assert lin.linear and lin.parts() == (lin,)


def test_loss_mask_codes_loss_and_live_latents():
    topk = orthogonal(3, TopK(k=1), n_latents=3)
    S = _p(topk, [[0, 1], [2], []])
    pc = linear_piece(topk, S)
    assert pc.reading is Reading.SELECTION and pc.margin == 1e-3
    assert np.array_equal(pc.loss_mask, S.mask) and pc.live_latents.tolist() == [0, 1]
    W_E = np.array([[2.0, 1.0, -1.0], [-1.0, 0.0, 3.0], [0.0, 0.0, 0.0]])
    assert pc.codes(W_E).tolist() == [[2.0, 1.0, 0.0], [0.0, 0.0, 3.0], [0.0, 0.0, 0.0]]
    W_D = np.eye(3)
    assert pc.loss(W_D, W_E) == pytest.approx(approx_loss(topk, W_D, W_E, S.mask))
    assert pc.loss(W_D, W_E) == pytest.approx(1 + 2 + 10)     # columns of I - Q: (-1,0,0), (-1,1,0), (0,-3,1)
    with pytest.raises(ValueError):
        pc.mask[0, 0] = False                                    # the cached arrays are read-only


def test_latent_gram_is_thm36_K():
    inst = Instance(W_p=np.array([[1.0, 0.6, 0.0], [0.0, 0.8, 1.0]]), activation=ReLU(), n_latents=2, M=[1.0, 4.0, 9.0])
    pc = Piece(inst, _p(inst, [[0, 1], [2]]))
    K = pc.latent_gram(0)
    assert K == pytest.approx(np.array([[1.0, 0.6 * 2], [0.6 * 2, 4.0]]))
    assert pc.latent_gram(1) == pytest.approx(np.array([[9.0]]))


def test_jumprelu_region_uses_its_threshold_and_topk_relu_orders():
    inst = orthogonal(2, JumpReLU(theta=0.5), n_latents=1)
    reg = Piece(inst, _p(inst, [[0]])).region
    assert [c.kind for c in reg.constraints] == [ConstraintKind.ON, ConstraintKind.OFF]
    assert reg.h == pytest.approx([-0.5 - 1e-3, 0.5])
    inst2 = orthogonal(2, TopKReLU(k=1), n_latents=2)
    kinds = [c.kind for c in Piece(inst2, _p(inst2, [[0, 1], []])).region.constraints]
    assert kinds == [ConstraintKind.ON, ConstraintKind.ORDER, ConstraintKind.ON, ConstraintKind.ORDER]


def test_unrealizable_piece_exports_its_exact_certificate():
    """The JSON carries y itself in rationals: G^T y = 0 exactly for G as stored, y >= 0, h^T y <= 0, and a strict
    row carries weight; the LP's float y (what used to be exported) misses G^T y = 0 by round-off here."""
    from fractions import Fraction

    from sdlscape.theory.strict import motzkin_lp

    ang = np.array([0, 2 * np.pi / 3, 4 * np.pi / 3])
    inst = Instance(W_p=np.stack([np.cos(ang), np.sin(ang)]), activation=ReLU(), n_latents=1)
    pc = Piece(inst, _p(inst, [[0, 1, 2]]))
    reg = pc.region
    y = [Fraction(v) for v in pc.realizability.to_dict()["certificate"]["farkas_y_exact"]]
    G, h, strict = reg.G, reg.h_open, reg.strict
    assert len(y) == G.shape[0] and all(v >= 0 for v in y)
    assert all(sum(Fraction(float(G[r, j])) * y[r] for r in range(len(y))) == 0 for j in range(G.shape[1]))
    hy = sum(Fraction(float(h[r])) * y[r] for r in range(len(y)))
    assert hy <= 0 and (hy < 0 or any(v > 0 and strict[r] for r, v in enumerate(y)))
    assert pc.realizability.certificate.tolist() == [float(v) for v in y]
    y_lp, _ = motzkin_lp(G, h, strict)
    assert any(sum(Fraction(float(G[r, j])) * Fraction(float(y_lp[r])) for r in range(len(y))) != 0
               for j in range(G.shape[1]))
