"""A contributor adds an activation with one class and one registry line; the commands then take it."""
import dataclasses
import json
from typing import ClassVar

import numpy as np
import pytest

from sdlscape.cli import main
from sdlscape.theory.activations import REGISTRY, Reduction, Separable, activation_from, register, unregister
from sdlscape.theory.activations.base import check_positive_float


@dataclasses.dataclass(frozen=True)
class ShiftedReLU(Separable):
    """z * H(z - shift): a toy activation for this test (a JumpReLU under another name)."""

    name: ClassVar[str] = "shifted_relu"
    positively_homogeneous: ClassVar[bool] = False
    certifier_reduction: ClassVar[Reduction] = Reduction.JUMP_THRESHOLD   # a separable threshold > 0
    shift: float

    def __post_init__(self):
        object.__setattr__(self, "shift", check_positive_float("shifted_relu", "shift", self.shift))

    @property
    def threshold(self) -> float:
        return self.shift


@pytest.fixture
def toy_registered():
    register(ShiftedReLU)       # the one registry line
    yield ShiftedReLU
    unregister("shifted_relu")
    assert "shifted_relu" not in REGISTRY


@pytest.fixture
def toy_instance(tmp_path, toy_registered):
    path = tmp_path / "toy.json"
    path.write_text(json.dumps({"W_p": [[1, 0, 0.6], [0, 1, 0.8]], "activation": {"name": "shifted_relu", "shift": 0.25},
                                "n_latents": 2}))
    return path


def test_registered_activation_round_trips(toy_registered):
    act = activation_from({"name": "shifted_relu", "shift": 0.25})
    assert isinstance(act, ShiftedReLU) and act.to_dict() == {"name": "shifted_relu", "shift": 0.25}
    assert act.apply(np.array([[0.2, 0.3, -1.0]])).tolist() == [[0.0, 0.3, 0.0]]


def test_realizable_and_piece_commands_take_the_new_activation(toy_instance, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["realizable", str(toy_instance), "--pattern", "[[0, 2], [1]]", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["realizable"] is True and r["activation"] == {"name": "shifted_relu", "shift": 0.25}
    W = np.array(r["witness"])
    Z = W @ np.array([[1, 0, 0.6], [0, 1, 0.8]])
    assert np.all(Z[0, [0, 2]] > 0.25) and Z[0, 1] <= 0.25 and Z[1, 1] > 0.25   # the pattern, read by shift
    out2 = tmp_path / "p.json"
    assert main(["piece", str(toy_instance), "--pattern", "[[0, 2], [1]]", "--starts", "2", "--json", str(out2)]) == 0
    p = json.loads(out2.read_text())
    assert p["realizable"] is True and p["outcome"] in ("partial_optimum", "leaves_region", "inconclusive")
    assert p["best_loss"] is not None and p["best_loss"] >= 0


def test_unregistered_name_is_bad_input(tmp_path):
    path = tmp_path / "toy.json"
    path.write_text(json.dumps({"W_p": [[1, 0], [0, 1]], "activation": {"name": "shifted_relu", "shift": 0.25},
                                "n_latents": 2}))
    assert main(["realizable", str(path), "--pattern", "[[0], [1]]"]) == 2


def test_theorem_checks_run_on_the_new_activation(toy_registered):
    """run_checks on a user instance with the toy activation: Thm 3.2 holds (its regions are linear pieces),
    Thm 3.6 fails with unequal weights (no positive eigenvector; the toy is separable with a threshold) and
    holds with equal ones; readings and searched counts are reported."""
    from sdlscape.outcomes import Reading, Status
    from sdlscape.theory.instance import Instance
    from sdlscape.verify.claims import run_checks

    act = activation_from({"name": "shifted_relu", "shift": 0.25})
    unequal = Instance(W_p=np.eye(2), M=[1.0, 2.0], activation=act, n_latents=2, name="toy-unequal")
    by = {r.claim: r for r in run_checks(["thm3.2", "thm3.6"], instance=unequal)}
    assert by["thm3.2"].status is Status.HOLDS and by["thm3.2"].activation == "shifted_relu"
    assert by["thm3.6"].status is Status.FAILS and by["thm3.6"].reading is Reading.DEF_3_1
    assert by["thm3.6"].counterexample["pattern"] == [[0, 1], []] and by["thm3.6"].searched.patterns == 1
    (eq,) = run_checks(["thm3.6"], instance=unequal.with_(M=[1.0, 1.0]))
    assert eq.status is Status.HOLDS
