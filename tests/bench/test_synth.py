"""SynthSAEBench (sae_lens.synthetic) as a bench: generated locally, written as bench data, trained on, scored;
the absorption oracle finds absorption constructed on its hierarchy."""
import json

import numpy as np
import pytest
import torch

pytest.importorskip("sae_lens")

from sdlscape.bench.evaluate import evaluate  # noqa: E402
from sdlscape.bench.loaders import load_sae  # noqa: E402
from sdlscape.bench.synth import max_interference, synth_truth  # noqa: E402
from sdlscape.bench.truth import load_truth  # noqa: E402
from sdlscape.cli import main  # noqa: E402

# near-orthogonal features (16 in 64 dims, SynthSAEBench's own orthogonalization), constant magnitude 1,
# two trees of three children: a latent reading its feature sees 1 when it is active and ~0 otherwise
CONFIG = {"num_features": 16, "hidden_dim": 64, "seed": 3, "bias": 0.0, "mean_firing_magnitudes": 1.0,
          "std_firing_magnitudes": 0.0, "orthogonalization": {"num_steps": 300, "lr": 0.01, "chunk_size": 1024},
          "firing_probability": {"generator_name": "zipfian", "exponent": 0.5, "max_prob": 0.5, "min_prob": 0.2},
          "hierarchy": {"total_root_nodes": 2, "branching_factor": 3, "max_depth": 1}}


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synth")
    (tmp / "cfg.json").write_text(json.dumps(CONFIG))
    assert main(["bench", "data", "--synth", str(tmp / "cfg.json"), "--samples", "20000", "--out",
                 str(tmp / "data")]) == 0
    return tmp / "data"


def test_round_trip_is_the_generator(synth_dir):
    truth = load_truth(synth_dir)
    direct, x, acts = synth_truth(str(synth_dir.parent / "cfg.json"), 20000)
    np.testing.assert_array_equal(truth.W_in, direct.W_in)
    np.testing.assert_array_equal(np.load(synth_dir / "x_in.npy"), x)
    np.testing.assert_allclose(acts @ truth.W_in.T, x, atol=1e-5)               # bias 0: x = acts @ F
    np.testing.assert_allclose(truth.eval_codes @ truth.W_in.T, truth.eval_x_in, atol=1e-5)
    assert len(truth.hierarchy) == 2 and all(len(g["children"]) == 3 for g in truth.hierarchy)
    for g in truth.hierarchy:          # Def. 3.2 on the samples: a child fires only with its parent
        for c in g["children"]:
            on = acts[:, c] != 0
            assert on.any() and (acts[on, g["parent"]] != 0).all()
    meta = json.loads((synth_dir / "bench.json").read_text())
    assert meta["source"]["interference"] == pytest.approx(max_interference(truth.W_in))
    assert meta["source"]["interference"]["M"] < 0.2                              # the orthogonalised dictionary


def _exact_and_absorbing(truth, tmp_path):
    F = truth.W_in.T                                       # features as rows
    g = truth.hierarchy[0]
    p, c = g["parent"], g["children"][0]
    np.savez(tmp_path / "exact.npz", W_enc=F.T, W_dec=F, threshold=np.full(F.shape[0], 0.5),
             activation=np.array("jumprelu"))
    E, D = F.copy(), F.copy()
    E[p] = F[p] - 3 * F[c]                                  # the parent latent is silenced by child c
    D[c] = (F[p] + F[c]) / np.linalg.norm(F[p] + F[c])     # child c's latent writes the parent
    np.savez(tmp_path / "absorb.npz", W_enc=E.T, W_dec=D, threshold=np.full(F.shape[0], 0.5),
             activation=np.array("jumprelu"))
    return p, c


def test_absorption_found_on_synthsaebench(synth_dir, tmp_path):
    truth = load_truth(synth_dir)
    p, c = _exact_and_absorbing(truth, tmp_path)
    exact = evaluate(load_sae(tmp_path / "exact.npz"), truth)
    assert exact["M_GT_decoder"] == 1.0 and exact["fvu"] < 1e-3
    ab = exact["absorption"]
    assert ab["summary"]["absorbed_mean"] == 0.0 and ab["summary"]["parent_fires_mean"] == 1.0
    assert ab["summary"]["split_parents"] == 0
    row = evaluate(load_sae(tmp_path / "absorb.npz"), truth)
    pairs = {(q["parent"], q["child"]): q for q in row["absorption"]["pairs"]}
    assert pairs[(p, c)]["absorbed"] == 1.0 and pairs[(p, c)]["parent_fires"] == 0.0
    for other in truth.hierarchy[0]["children"][1:]:       # absorbed exactly where child c co-fires
        on = truth.eval_codes[:, other] != 0
        assert pairs[(p, other)]["absorbed"] == pytest.approx(np.mean(truth.eval_codes[on, c] != 0))
    assert all(q["absorbed"] == 0.0 for (pp, _), q in pairs.items() if pp != p)
    assert row["absorption"]["parents"][0]["split"] is True


def test_saelens_sae_trained_on_synth_data_is_scored(synth_dir, tmp_path, train_saelens_topk):
    x = torch.as_tensor(np.load(synth_dir / "x_in.npy"))
    sae = train_saelens_topk(x, d_sae=32, k=4, lr=5e-3, steps=200)
    sae.save_inference_model(tmp_path / "sae")
    out = tmp_path / "r.json"
    assert main(["bench", "evaluate", "--sae", str(tmp_path / "sae"), "--truth", str(synth_dir),
                 "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["fvu"] < 0.5 and row["M_IP_decoder"] > 0.5
    assert row["absorption"]["summary"]["pairs"] == 6 and row["paper_M_GT"] is None


def test_evaluate_synth_in_memory_equals_the_folder(synth_dir, tmp_path):
    truth = load_truth(synth_dir)
    _exact_and_absorbing(truth, tmp_path)
    out = tmp_path / "mem.json"
    assert main(["bench", "evaluate", "--sae", str(tmp_path / "absorb.npz"), "--synth",
                 str(synth_dir.parent / "cfg.json"), "--json", str(out)]) == 0
    mem = json.loads(out.read_text())["rows"][0]
    disk = evaluate(load_sae(tmp_path / "absorb.npz"), truth)
    for k in ("M_GT_decoder", "fvu", "l0", "mcc_decoder"):
        assert mem[k] == pytest.approx(disk[k], rel=1e-6)
    assert mem["absorption"]["summary"] == disk["absorption"]["summary"]
