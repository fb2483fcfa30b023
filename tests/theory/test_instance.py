"""Instances: validation, file round trips, constructors, and the closed-form feature weights M_d."""
import json

import numpy as np
import pytest

from sdlscape.errors import InputError
from sdlscape.theory import instance as I
from sdlscape.theory.activations import JumpReLU


def test_feature_law_weights_match_monte_carlo():
    law = I.FeatureLaw(p_active=0.2, c_min=0.5, beta=1.5)
    n = 4
    X = law.sample(400_000, n, seed=1)
    alone = (X > 0).sum(axis=1) == 1
    # M_d = Pr(x = x_d e_d) E[x_d^2 | x_d > 0] = E[x_d^2 1{only d active}]
    mc = np.array([np.mean(np.where(alone & (X[:, d] > 0), X[:, d] ** 2, 0.0)) for d in range(n)])
    se = np.array([np.std(np.where(alone & (X[:, d] > 0), X[:, d] ** 2, 0.0)) for d in range(n)]) / np.sqrt(len(X))
    closed = law.weights(n)
    assert np.all(np.abs(mc - closed) < 5 * se), (mc, closed, se)


def test_second_moment_uses_mean_beta():
    # c = 0: E[E^2] = 2 beta^2 for an exponential of mean beta
    assert I.FeatureLaw(0.5, 0.0, 3.0).second_moment() == pytest.approx(18.0)


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_round_trip(tmp_path, suffix):
    inst = I.transcoder_pair(5, 3, 4, activation=JumpReLU(theta=0.3), n_latents=6, seed=2,
                             M=np.arange(1, 6.0))
    inst = inst.with_(parents=((0, 1), (2, 3, 4)))
    path = tmp_path / f"inst{suffix}"
    I.save_instance(inst, path)
    back = I.load_instance(path)
    assert np.array_equal(back.W_p, inst.W_p) and np.array_equal(back.W_r, inst.W_r)
    assert np.array_equal(back.M, inst.M) and back.activation == inst.activation
    assert back.n_latents == 6 and back.parents == inst.parents


def test_law_defines_weights(tmp_path):
    d = {"W_p": np.eye(3).tolist(), "activation": {"name": "relu"}, "n_latents": 3,
         "law": {"p_active": 0.1, "c_min": 0.0, "beta": 1.0}}
    (tmp_path / "a.json").write_text(json.dumps(d))
    inst = I.load_instance(tmp_path / "a.json")
    assert np.allclose(inst.M, 0.1 * 0.9 ** 2 * 2.0)


@pytest.mark.parametrize("bad, message", [
    ({"W_p": [[1, 0], [0, 2]]}, "norm"),
    ({"W_p": [[1, float("nan")], [0, 1]]}, "NaN"),
    ({"W_r": [[1, 0, 0]]}, "columns"),
    ({"M": [1, 2, 3]}, "one weight per feature"),
    ({"M": [1, -1]}, "positive"),
    ({"activation": {"name": "topk", "k": 5}}, "exceeds n_latents"),
    ({"activation": {"name": "jumprelu", "theta": 0}}, "theta > 0"),
    ({"activation": {"name": "softmax"}}, "unknown activation"),
    ({"n_latents": 0}, "n_latents"),
    ({"parents": [[0, 5]]}, "outside"),
    ({"bogus": 1}, "bogus: unknown key"),
])
def test_bad_instances_name_the_problem(bad, message):
    d = {"W_p": np.eye(2).tolist(), "activation": {"name": "relu"}, "n_latents": 2}
    d.update(bad)
    with pytest.raises(InputError, match=message):
        I.Instance.from_dict(d)


def test_normalize_rescales_columns():
    inst = I.Instance.from_dict({"W_p": [[3, 0], [4, 2]], "activation": "relu", "n_latents": 2}, normalize=True)
    assert np.allclose(np.linalg.norm(inst.W_p, axis=0), 1.0)


def test_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        I.load_instance(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        I.load_instance(tmp_path / "x.json")


@pytest.mark.parametrize("M", [0.05, 0.2, 0.5])
def test_superposed_respects_max_interference(M):
    inst = I.superposed(12, 6, M, seed=3)
    assert inst.max_interference <= M + 1e-12
    assert np.allclose(np.linalg.norm(inst.W_p, axis=0), 1.0)
    assert inst.n > inst.n_p


def test_hierarchical_groups_children_near_their_parent():
    inst = I.hierarchical([3, 2], n_p=8, spread=0.3, seed=0)
    assert inst.parents == ((0, 1, 2), (3, 4))
    G = inst.W_p.T @ inst.W_p
    within = [G[i, j] for g in inst.parents for i in g for j in g if i < j]
    across = [G[i, j] for i in inst.parents[0] for j in inst.parents[1]]
    assert min(within) > max(np.abs(across))


def test_orthogonal_and_example():
    ex = I.example_3_5()
    assert ex.activation.name == "topk_relu" and ex.activation.k == 1 and ex.is_sae
    assert I.orthogonal(3, n_p=5).max_interference == 0.0
    with pytest.raises(InputError):
        I.orthogonal(4, n_p=3)
