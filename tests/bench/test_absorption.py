"""The absorption oracle on constructed dictionaries whose absorption is known exactly (none, full, partial, split)."""
import numpy as np
import pytest

from sdlscape.bench.absorption import absorption, absorption_of
from sdlscape.bench.loaders import load_sae
from sdlscape.bench.truth import Truth

HIER = [{"parent": 0, "children": [1, 2]}]
T = 1.5          # the partial parent latent's bias: it misses parents with coefficient <= T


def _samples(N=4000, seed=0):
    """Def. 3.2 data: children 1, 2 fire independently (0.3), the parent 0 fires iff a child does; 3, 4 free.
    Magnitudes 1 + Exp(1), so every active coefficient is >= 1."""
    rng = np.random.default_rng(seed)
    on = rng.random((N, 5)) < 0.3
    on[:, 0] = on[:, 1] | on[:, 2]
    X = on * (1.0 + rng.exponential(1.0, (N, 5)))
    F = np.eye(6)[:, :5]                       # orthonormal true features as columns, d = 6
    return X, F


def _codes(X, F, E, b=None):
    pre = (X @ F.T) @ np.asarray(E, float).T + (0 if b is None else np.asarray(b, float))
    return np.maximum(pre, 0)


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def test_no_absorption():
    X, F = _samples()
    D = E = F.T
    r = absorption(_codes(X, F, E), X, D, F, HIER)
    for p in r["pairs"]:
        assert p["parent_fires"] == 1.0 and p["absorbed"] == 0.0 and p["parent_latents"] == [0]
    assert r["parents"][0]["split"] is False and r["summary"]["absorbed_pairs"] == 0


def test_full_absorption_of_one_child():
    X, F = _samples()
    e = np.eye(6)
    E = np.array([e[0] - 100 * e[1], e[1], e[2], e[3], e[4]])        # the parent latent is shut off by child 1
    D = np.array([e[0], _unit(e[0] + e[1]), e[2], e[3], e[4]])        # child 1's latent writes the parent
    r = absorption(_codes(X, F, E), X, D, F, HIER)
    c1, c2 = r["pairs"]
    assert c1["absorbed"] == 1.0 and c1["parent_fires"] == 0.0
    on2 = X[:, 2] != 0
    assert c2["absorbed"] == pytest.approx(np.mean(X[on2, 1] != 0))   # exactly the samples where child 1 co-fires
    assert c1["carrier_cos"] == pytest.approx(1 / np.sqrt(2))
    assert r["summary"]["absorbed_pairs"] == 1
    # Thm 3.8's P': the parent latent keeps child 2 only, child 1 split off into its own parent-carrying latent
    assert r["parents"][0]["split"] is True and r["parents"][0]["partial_carriers"] == [0, 1]


def test_partial_absorption_is_the_missed_parent_mass():
    X, F = _samples()
    e = np.eye(6)
    E = np.array([e[0], e[1], e[2], e[3], e[4]])
    b = np.array([-T, 0, 0, 0, 0])
    D = np.array([e[0], _unit(e[0] + e[1]), e[2], e[3], e[4]])
    r = absorption(_codes(X, F, E, b), X, D, F, HIER)
    on1, on2 = X[:, 1] != 0, X[:, 2] != 0
    want1 = np.mean(X[on1, 0] <= T)
    assert 0.2 < want1 < 0.6                                       # genuinely partial
    assert r["pairs"][0]["absorbed"] == pytest.approx(want1)
    assert r["pairs"][0]["parent_fires"] == pytest.approx(1 - want1)
    assert r["pairs"][1]["absorbed"] == pytest.approx(np.mean((X[on2, 0] <= T) & (X[on2, 1] != 0)))


def test_split_parent():
    X, F = _samples()
    e = np.eye(6)
    E = np.array([e[1], e[2], e[3], e[4]])
    D = np.array([_unit(e[0] + e[1]), _unit(e[0] + e[2]), e[3], e[4]])   # no parent latent; two half-carriers
    r = absorption(_codes(X, F, E), X, D, F, HIER)
    par = r["parents"][0]
    assert par["split"] is True and par["partial_carriers"] == [0, 1] and par["parent_latents"] == []
    assert [p["absorbed"] for p in r["pairs"]] == [1.0, 1.0]
    assert r["summary"]["unrepresented_parents"] == 1 and r["summary"]["split_parents"] == 1


def test_deterministic_and_through_a_loaded_dictionary(tmp_path):
    X, F = _samples()
    e = np.eye(6)
    E = np.array([e[0] - 100 * e[1], e[1], e[2], e[3], e[4]])
    D = np.array([e[0], _unit(e[0] + e[1]), e[2], e[3], e[4]])
    np.savez(tmp_path / "d.npz", W_enc=E.T, W_dec=D, activation=np.array("relu"))
    x = (X @ F.T).astype(np.float32)
    truth = Truth(W_in=F, W_out=F, anchors=np.zeros(0, int), eval_x_in=x, eval_x_out=x, eval_codes=X,
                  hierarchy=HIER)
    a = absorption_of(load_sae(tmp_path / "d.npz"), truth)
    b = absorption_of(load_sae(tmp_path / "d.npz"), truth)
    assert a == b and a["applicable"] and a["pairs"][0]["absorbed"] == 1.0
    truth.hierarchy = []
    assert absorption_of(load_sae(tmp_path / "d.npz"), truth)["applicable"] is False
