"""A contributor's new coupled activation, TopK o JumpReLU, added from inside the tests: one class + one `register`.

topk_jumprelu keeps the k largest pre-activations among those above theta > 0, so sigma(z)_i in {0, z_i} (eq. 10).
It fires above theta (not 0, as TopK o ReLU), is not positively homogeneous, and its region hyperplanes
z_id = theta do not pass through 0. Every command and check is run on it and compared with values derived
by hand in the comments (W_p = W_r = I_2 unless said otherwise, so codes are the entries of W_E).
"""
import dataclasses
import json
from typing import ClassVar

import numpy as np
import pytest
import torch

from sdlscape.cli import main
from sdlscape.outcomes import Reading, Severity, Status
from sdlscape.theory.activations import (
    REGISTRY,
    Reduction,
    TopKFamily,
    activation_from,
    register,
    unregister,
)
from sdlscape.theory.activations.base import check_positive_float
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece


@dataclasses.dataclass(frozen=True)
class TopKJumpReLU(TopKFamily):
    """The k largest codes among those above theta > 0."""

    name: ClassVar[str] = "topk_jumprelu"
    positively_homogeneous: ClassVar[bool] = False
    passes_negative_codes: ClassVar[bool] = False
    certifier_reduction: ClassVar[Reduction] = Reduction.UNSUPPORTED   # threshold and orderings together
    theta: float = 1.5

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "theta", check_positive_float(self.name, "theta", self.theta))

    @property
    def threshold(self) -> float:
        return self.theta

    @classmethod
    def search_variants(cls, full: bool) -> list:
        return [cls(k=1, theta=0.5), cls(k=1, theta=1.5)] + ([cls(k=2, theta=1.5)] if full else [])


@pytest.fixture
def registered():
    register(TopKJumpReLU)          # the one registry line
    yield TopKJumpReLU
    unregister("topk_jumprelu")


def _pat(sets, n=2):
    return Pattern(tuple(frozenset(s) for s in sets), n)


def _instance_file(tmp_path, W_p, theta=1.5, k=1, n_latents=2, M=None):
    path = tmp_path / "tj.json"
    spec = {"W_p": W_p, "activation": {"name": "topk_jumprelu", "k": k, "theta": theta}, "n_latents": n_latents}
    if M is not None:
        spec["M"] = M
    path.write_text(json.dumps(spec))
    return path


def test_the_class_answers_everything_and_the_registry_guards_its_names(registered):
    assert TopKJumpReLU.unanswered() == []
    with pytest.raises(ValueError, match="already registered"):
        register(TopKJumpReLU)
    with pytest.raises(ValueError, match="trainer code"):       # one namespace: "gated" is a trainer code

        @dataclasses.dataclass(frozen=True)
        class Gated(TopKJumpReLU):
            name: ClassVar[str] = "gated"

        register(Gated)

    @dataclasses.dataclass(frozen=True)
    class Forgetful(TopKFamily):     # no threshold, no homogeneity, no certifier answer: refused, not defaulted
        name: ClassVar[str] = "forgetful"
        passes_negative_codes: ClassVar[bool] = False

    with pytest.raises(TypeError, match="positively_homogeneous, certifier_reduction, threshold"):
        register(Forgetful)
    assert "forgetful" not in REGISTRY
    act = activation_from({"name": "topk_jumprelu", "k": 1, "theta": 1.5})
    assert act.threshold == 1.5 and not act.central_arrangement and not act.positively_homogeneous


def test_the_rule_by_hand_numpy_and_torch_alike(registered):
    act = TopKJumpReLU(k=2, theta=1.5)
    Z = np.array([[2.0, 1.6, 1.7, -3.0],      # three above theta: the two largest pass
                  [2.0, 1.0, 0.4, 1.5],       # one above theta (1.5 itself is not above): only it
                  [1.0, 0.2, -1.0, 0.0]])     # none
    want = np.array([[2.0, 0.0, 1.7, 0.0], [2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    assert np.array_equal(act.apply(Z), want)
    assert np.array_equal(act.apply(torch.tensor(Z)).numpy(), want)     # the torch rule is the same rule
    assert np.array_equal(act.fires(Z), want > 0)
    assert not np.allclose(act.apply(2 * Z), 2 * act.apply(Z))           # not positively homogeneous (row 2)


def test_realizable_by_hand(registered, tmp_path):
    # W_p = [e1, e2, -(e1+e2)/sqrt2]; one latent firing for e1 and e2 needs z1, z2 > 1.5, then its code on
    # the third feature is -(z1+z2)/sqrt2 < 0 < 1.5: firing for all three is impossible (a Farkas certificate).
    s = 1 / np.sqrt(2)
    inst = _instance_file(tmp_path, [[1, 0, -s], [0, 1, -s]])
    out = tmp_path / "r.json"
    assert main(["realizable", str(inst), "--pattern", "[[0, 1], [2]]", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["realizable"] is True
    Z = np.array(r["witness"]) @ np.array([[1, 0, -s], [0, 1, -s]])
    assert Z[0, 0] > 1.5 and Z[0, 1] > 1.5 and Z[1, 2] > 1.5        # the pattern, read at theta (not at 0)
    assert main(["realizable", str(inst), "--pattern", "[[0, 1, 2], []]", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["realizable"] is False


def test_piece_and_landscape_values_by_hand(registered, tmp_path):
    # W_p = W_r = I_2, M = 1, k = 1: pattern [[0], [1]] reaches L~ = 0 (codes a_i > theta, w_D^i = e_i / a_i);
    # one latent for both features is a rank-one fit of I_2: L~ = 2 - 1 = 1; no latent firing: L~ = 2.
    from sdlscape.solvers.landscape import map_landscape
    from sdlscape.verify.crosscheck import landscape_index

    inst = _instance_file(tmp_path, [[1, 0], [0, 1]])
    out = tmp_path / "p.json"
    assert main(["piece", str(inst), "--pattern", "[[0, 1], []]", "--starts", "2", "--json", str(out)]) == 0
    p = json.loads(out.read_text())
    assert p["realizable"] is True and abs(p["best_loss"] - 1.0) < 1e-6
    act = activation_from({"name": "topk_jumprelu", "k": 1, "theta": 1.5})
    land = map_landscape(Instance(W_p=np.eye(2), activation=act, n_latents=2), starts=2, seed=0).to_dict()
    assert abs(land["summary"]["global_value"]) < 1e-6
    idx = landscape_index(land)
    assert abs(idx[str(_pat([[0], [1]]).canonical())]["loss"]) < 1e-6
    assert abs(idx[str(_pat([[0, 1], []]).canonical())]["loss"] - 1.0) < 1e-6
    assert abs(idx[str(_pat([[], []]).canonical())]["loss"] - 2.0) < 1e-6


def test_certify_says_unsupported_never_certified(registered, tmp_path):
    # the certifier's reductions assume threshold 0 (homogeneous rows) or a separable threshold; with a
    # threshold AND orderings neither applies: every piece is inconclusive/unsupported, nothing certified
    from sdlscape.solvers.certify.global_min import certify_global

    act = activation_from({"name": "topk_jumprelu", "k": 1, "theta": 1.5})
    cert = certify_global(Instance(W_p=np.eye(2), activation=act, n_latents=2), node_limit=200)
    assert cert.certified is False and cert.value is None
    assert cert.pieces and all(c.reason is not None and c.reason.value == "unsupported" for c in cert.pieces)
    inst = _instance_file(tmp_path, [[1, 0], [0, 1]])
    out = tmp_path / "c.json"
    main(["certify", str(inst), "--node-limit", "200", "--json", str(out)])
    assert json.loads(out.read_text())["certified"] is False


def test_thm3_6_construction_lands_inside_its_own_region(registered):
    # K_1 = M^1/2 I M^1/2 = I for M = (1, 1): (1, 1) is a positive eigenvector, the codes are scaled above
    # theta = 1.5 (not above 0): the point reads back as its own pattern. With M = (1, 2) K = diag(1, 2) has
    # no positive eigenvector: Thm 3.6 (every such piece has a stationary point) fails there.
    from sdlscape.theory.constructions import partition_stationary_points
    from sdlscape.verify.claims import run_checks

    act = activation_from({"name": "topk_jumprelu", "k": 1, "theta": 1.5})
    eq = Instance(W_p=np.eye(2), M=[1.0, 1.0], activation=act, n_latents=2, name="tj-equal")
    piece = Piece(eq, _pat([[0, 1], []]), 1e-3, Reading.DEF_3_1)
    _, point = partition_stationary_points(piece)
    assert point is not None
    W_D, W_E = point
    assert np.all((W_E @ eq.W_p)[0] > 1.5) and piece.reads_back(W_E)
    (held,) = run_checks(["thm3.6"], instance=eq)
    assert held.status is Status.HOLDS
    (failed,) = run_checks(["thm3.6"], instance=eq.with_(M=[1.0, 2.0]))
    assert failed.status is Status.FAILS and failed.counterexample["pattern"] == [[0, 1], []]


def test_thm3_3_fails_only_literally(registered):
    # The construction W_E* = [W_p^T; 0] has codes <w_p^i, w_p^d> <= 1 < theta = 1.5: nothing fires, so
    # L~ = sum_d M_d, above n^2 M^2 sum M_d whenever n M < 1 (the literal reading fails, e.g. orthogonal
    # features). For theta = 0.5 < 1 (the natural hypotheses) only codes > 0.5 pass, the diagonal first:
    # the natural bound holds. So: fails, literal, with 0 natural violations in the theta = 0.5 instances.
    from sdlscape.verify.claims import run_checks

    (res,) = run_checks(["thm3.3"], activations=["topk_jumprelu"])
    assert res.status is Status.FAILS and res.severity is Severity.LITERAL
    assert res.evidence["natural_violations"] == 0 and res.natural["instances"] > 0
    rec = res.counterexample["record"]
    small = res.counterexample["instance"]
    n = len(small["W_p"][0])
    assert rec["diagonal_dropped"] == n and "theta=1.5" in rec["activation"]
    assert abs(rec["L_approx"] - float(np.sum(small["M"]))) < 1e-9


def test_piece_count_bounds_bracket_the_enumeration(registered):
    # the hyperplanes z_id = theta are affine: the bound before enumeration must not use Cover's (cones) count
    from sdlscape.solvers.landscape import enumerate_pieces
    from sdlscape.solvers.piece_bounds import piece_bounds

    act = activation_from({"name": "topk_jumprelu", "k": 2, "theta": 0.3})
    s = 1 / np.sqrt(2)
    inst = Instance(W_p=np.array([[1, 0, s], [0, 1, s]]), activation=act, n_latents=3)
    found = len(enumerate_pieces(inst, 1e-3))
    b = piece_bounds(inst, 1e-3)
    assert b.pieces_lower <= found <= b.pieces_upper
