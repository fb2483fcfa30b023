"""Real clients of `bench evaluate`: dictionaries built, trained and saved by SAELens, EleutherAI sparsify and
dictionary_learning with their own code, read back by our loaders and scored.

The ``test`` extra installs the three packages.  dictionary_learning 0.1.0 imports nnsight in its package
``__init__`` (for its ActivationBuffer) and nnsight's requirements would replace the installed torch, so it is
installed with --no-deps and the one missing module is stubbed here; its AE classes and its save
(``t.save(ae.state_dict(), "ae.pt")``, training.py) are the package's own.
"""
import json
import sys
import types

import numpy as np
import pytest
import torch

from sdlscape.bench.evaluate import evaluate
from sdlscape.bench.loaders import load_sae
from sdlscape.bench.truth import load_truth, write_bench_data
from sdlscape.cli import main

sae_lens = pytest.importorskip("sae_lens")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "data"
    write_bench_data(out, "table1", "small", seed=0)
    return out


@pytest.fixture(scope="module")
def truth(data_dir):
    return load_truth(data_dir)


def _rows_pad(W_rows: np.ndarray, d_sae: int, seed: int = 0) -> torch.Tensor:
    """d_sae rows: the given ones, then random unit rows (dead-ish extras, as an over-complete SAE has)."""
    g = np.random.default_rng(seed)
    extra = g.standard_normal((d_sae - W_rows.shape[0], W_rows.shape[1]))
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return torch.tensor(np.concatenate([W_rows, extra]), dtype=torch.float32)


# ---------------------------------------------------------------- SAELens

def _saelens_topk(W_dec_rows: torch.Tensor, W_enc_rows: torch.Tensor, k: int):
    from sae_lens import TopKSAE, TopKSAEConfig

    sae = TopKSAE(TopKSAEConfig(d_in=W_dec_rows.shape[1], d_sae=W_dec_rows.shape[0], k=k))
    with torch.no_grad():
        sae.W_dec.copy_(W_dec_rows)
        sae.W_enc.copy_(W_enc_rows.t())
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return sae


def test_saelens_exact_decoder_scores_100_and_random_0(tmp_path, truth):
    W = truth.W_in.T
    exact = _saelens_topk(_rows_pad(W, 80), _rows_pad(W, 80), k=6)
    exact.save_model(tmp_path / "exact")
    g = torch.Generator().manual_seed(0)
    rand = _saelens_topk(torch.randn(80, 38, generator=g), torch.randn(80, 38, generator=g), k=6)
    rand.save_model(tmp_path / "rand")
    a, b = load_sae(tmp_path / "exact"), load_sae(tmp_path / "rand")
    assert a.format == "saelens" and a.architecture == "topk" and a.W_enc.shape == (80, 38)
    ra, rb = evaluate(a, truth), evaluate(b, truth)
    assert ra["M_GT_decoder"] == 1.0 and ra["M_GT"] == 1.0
    assert rb["M_GT_decoder"] == 0.0 and rb["M_GT"] == 0.0
    x = torch.as_tensor(truth.eval_x_in[:64])
    with torch.no_grad():       # the loader's forward is SAELens's own
        torch.testing.assert_close(a.decode(a.encode(x)), exact.decode(exact.encode(x)))


def test_saelens_trained_on_bench_data_is_scored(tmp_path, data_dir, truth, train_saelens_topk):
    """A TopK SAE trained with SAELens's own training forward on `bench data` output, saved by SAELens,
    scored by the CLI; its decoder recovers some features and its FVU is the one SAELens computes."""
    x = torch.as_tensor(np.load(data_dir / "x_in.npy"))
    sae = train_saelens_topk(x, d_sae=200, k=6, lr=3e-3, steps=300, unit_decoder=True)
    sae.save_inference_model(tmp_path / "trained")
    out = tmp_path / "r.json"
    assert main(["bench", "evaluate", "--sae", str(tmp_path / "trained"), "--truth", str(data_dir),
                 "--json", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    loaded = sae_lens.SAE.load_from_disk(tmp_path / "trained")
    xe = torch.as_tensor(truth.eval_x_in)
    with torch.no_grad():
        r = loaded.decode(loaded.encode(xe)).numpy()
    from sdlscape.bench.metrics import fvu

    assert row["fvu"] == pytest.approx(fvu(truth.eval_x_out, r), rel=1e-5)
    assert row["M_IP_decoder"] > 0.5 and 0 < row["l0"] <= 6
    assert row["sae"]["format"] == "saelens"


# ---------------------------------------------------------------- EleutherAI sparsify

def test_sparsify_save_to_disk_is_read_and_reproduced(tmp_path, truth):
    sparsify = pytest.importorskip("sparsify")
    W = truth.W_in.T
    coder = sparsify.SparseCoder(38, sparsify.SparseCoderConfig(num_latents=80, k=6))
    with torch.no_grad():
        coder.encoder.weight.copy_(_rows_pad(W, 80))
        coder.encoder.bias.copy_(torch.linspace(-0.01, 0.01, 80))
        coder.W_dec.copy_(_rows_pad(W, 80))
        coder.b_dec.copy_(torch.linspace(-0.1, 0.1, 38))
    coder.save_to_disk(tmp_path / "layers.3")
    sae = load_sae(tmp_path)                     # the folder of hook points, one coder in it
    assert sae.format == "sparsify" and sae.W_dec.shape == (80, 38)
    x = torch.as_tensor(truth.eval_x_in[:128])
    with torch.no_grad():
        theirs = coder(x).sae_out
    torch.testing.assert_close(sae.decode(sae.encode(x)), theirs, atol=1e-5, rtol=0)
    row = evaluate(sae, truth)
    assert row["M_GT_decoder"] == 1.0 and row["M_GT"] == 1.0
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        coder.W_dec.copy_(torch.randn(80, 38, generator=g))
        coder.encoder.weight.copy_(torch.randn(80, 38, generator=g))
    coder.save_to_disk(tmp_path / "rand")
    assert evaluate(load_sae(tmp_path / "rand"), truth)["M_GT_decoder"] == 0.0


# ---------------------------------------------------------------- dictionary_learning

@pytest.fixture(scope="module")
def dictionary_learning():
    if "nnsight" not in sys.modules:
        stub = types.ModuleType("nnsight")
        stub.LanguageModel = object
        sys.modules["nnsight"] = stub
    return pytest.importorskip("dictionary_learning")


def _dl_save(ae, folder, dict_class):
    folder.mkdir(parents=True)
    torch.save({k: v.cpu() for k, v in ae.state_dict().items()}, folder / "ae.pt")   # training.py's save
    (folder / "config.json").write_text(json.dumps({"trainer": {"dict_class": dict_class}}))


@pytest.mark.parametrize("cls", ["AutoEncoderTopK", "AutoEncoder", "JumpReluAutoEncoder", "GatedAutoEncoder",
                                 "BatchTopKSAE"])
def test_dictionary_learning_ae_pt_is_read_and_reproduced(tmp_path, truth, dictionary_learning, cls):
    from dictionary_learning import dictionary as dl
    from dictionary_learning.trainers.batch_top_k import BatchTopKSAE
    from dictionary_learning.trainers.top_k import AutoEncoderTopK

    W = _rows_pad(truth.W_in.T, 80)
    torch.manual_seed(0)
    make = {"AutoEncoderTopK": lambda: AutoEncoderTopK(38, 80, 6), "BatchTopKSAE": lambda: BatchTopKSAE(38, 80, 6),
            "AutoEncoder": lambda: dl.AutoEncoder(38, 80), "JumpReluAutoEncoder": lambda: dl.JumpReluAutoEncoder(38, 80),
            "GatedAutoEncoder": lambda: dl.GatedAutoEncoder(38, 80)}
    ae = make[cls]()
    with torch.no_grad():
        if hasattr(ae, "encoder"):
            ae.encoder.weight.copy_(W)
            ae.decoder.weight.copy_(W.t())
        else:
            ae.W_enc.copy_(W.t())
            ae.W_dec.copy_(W)
            ae.threshold.fill_(0.05)
        if cls == "BatchTopKSAE":
            ae.threshold.fill_(0.1)
        if cls == "GatedAutoEncoder":
            ae.r_mag.fill_(0.1)
            ae.gate_bias.fill_(-0.02)
            ae.mag_bias.fill_(0.01)
            ae.decoder_bias.fill_(0.03)
    _dl_save(ae, tmp_path / "trainer_0", cls)
    sae = load_sae(tmp_path / "trainer_0")
    assert sae.format == "dictionary_learning" and sae.info["dict_class"] == cls
    x = torch.as_tensor(truth.eval_x_in[:128])
    with torch.no_grad():
        theirs = ae.decode(ae.encode(x))
    assert (sae.encode(x) != 0).any()
    torch.testing.assert_close(sae.decode(sae.encode(x)), theirs, atol=1e-5, rtol=0)
    assert evaluate(sae, truth)["M_GT_decoder"] == 1.0


def test_dictionary_learning_random_scores_0(tmp_path, truth, dictionary_learning):
    from dictionary_learning.trainers.top_k import AutoEncoderTopK

    torch.manual_seed(3)
    ae = AutoEncoderTopK(38, 80, 6)          # its own random initialisation
    _dl_save(ae, tmp_path / "t", "AutoEncoderTopK")
    assert evaluate(load_sae(tmp_path / "t" / "ae.pt"), truth)["M_GT_decoder"] == 0.0
