"""bench data / bench evaluate: the files reproduce the bench, and scores mean what the bench's rows mean."""
import json

import numpy as np
import pytest
import torch

from sdlscape.bench.evaluate import evaluate, pw_mcc
from sdlscape.bench.loaders import detect_format, load_sae
from sdlscape.bench.truth import load_truth, resolved_row, truth_from_table, write_bench_data
from sdlscape.cli import main
from sdlscape.errors import InputError


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "data"
    write_bench_data(out, "table1", "small", seed=0, record={"made_by": {"command": "test"}})
    return out


def _plain(path, W_enc_rows, W_dec_rows, **extra):
    np.savez(path, W_enc=np.asarray(W_enc_rows).T, W_dec=np.asarray(W_dec_rows), **extra)
    return path


def test_data_files_reproduce_the_bench(data_dir):
    from sdlscape.bench.experiments import get_bench

    _, row, res = resolved_row("table1", "small")
    bench = get_bench(res.bench, "cpu")
    W_p, W_r = np.load(data_dir / "W_p.npy"), np.load(data_dir / "W_r.npy")
    assert W_p.shape == (res.bench.n_p, res.bench.n) and np.allclose(np.linalg.norm(W_p, axis=0), 1, atol=1e-5)
    np.testing.assert_array_equal(W_p, bench.truth_in.numpy())
    np.testing.assert_array_equal(W_r, bench.truth_out.numpy())
    np.testing.assert_array_equal(np.load(data_dir / "x_in.npy"), bench.x_in.numpy())
    truth = load_truth(data_dir)
    codes = np.load(data_dir / "codes.npz")
    X = np.zeros(tuple(codes["shape"]), np.float32)
    X[codes["rows"], codes["cols"]] = codes["values"]
    np.testing.assert_allclose(X @ W_p.T, np.load(data_dir / "x_in.npy"), atol=1e-5)   # codes are the draw
    xe, _ = bench.sample(res.n_eval, res.bench.seed + 999_983)
    np.testing.assert_array_equal(truth.eval_x_in, xe.numpy())
    np.testing.assert_allclose(truth.eval_codes @ W_p.T, truth.eval_x_in, atol=1e-5)
    meta = json.loads((data_dir / "bench.json").read_text())
    assert meta["tau"] == row.tau == 0.95 and meta["source"]["method"] == "topk"
    assert meta["made_by"]["command"] == "test" and meta["source"]["seed"] == 0
    assert truth.anchors.size == res.n_anchors and json.loads((data_dir / "law.json").read_text())["p_active"] == 0.01


def test_bench_data_is_all_or_nothing(tmp_path, monkeypatch):
    import sdlscape.bench.truth as tr

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tr, "_save_sparse", boom)
    with pytest.raises(RuntimeError):
        tr.write_bench_data(tmp_path / "out", "table1", "small")
    assert list(tmp_path.iterdir()) == []          # neither the folder nor a temporary one is left
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    assert main(["bench", "data", "--table", "table1", "--out", str(tmp_path / "full")]) == 2
    assert (tmp_path / "full" / "x").read_text() == "keep"


def test_truth_from_table_equals_the_written_files(data_dir):
    a, b = truth_from_table("table1", "small"), load_truth(data_dir)
    for k in ("W_in", "W_out", "anchors", "eval_x_in", "eval_x_out", "eval_codes"):
        np.testing.assert_array_equal(getattr(a, k), getattr(b, k))
    assert a.tau == b.tau and a.paper == b.paper


def test_exact_decoder_scores_100_percent_and_random_about_0(tmp_path, data_dir):
    truth = load_truth(data_dir)
    W = truth.W_in
    exact = evaluate(load_sae(_plain(tmp_path / "e.npz", W.T, W.T, k=np.array(6))), truth)
    assert exact["M_GT"] == exact["M_GT_decoder"] == exact["M_GT_decoder_at_0.9"] == 1.0
    assert exact["mcc_decoder"] == pytest.approx(1.0) and exact["argmax_collisions"] == 0
    assert exact["dead_fraction"] == 0.0 and exact["paper_M_GT"] == 0.849
    # the exact dictionary with TopK reconstructs the held-out samples up to interference
    assert exact["fvu"] < 0.1 and 0 < exact["l0"] <= 6
    rng = np.random.default_rng(0)
    rand = evaluate(load_sae(_plain(tmp_path / "r.npz", rng.standard_normal((800, 38)),
                                    rng.standard_normal((800, 38)), k=np.array(6))), truth)
    assert rand["M_GT"] == 0.0 and rand["M_GT_decoder"] == 0.0 and rand["fvu"] > 1.0
    assert rand["argmax_collisions"] >= 800 - 50 and rand["uniqueness_decoder"] < 0.1


def test_row_has_every_key_of_a_bench_row(tmp_path, data_dir):
    from sdlscape.bench import experiments as ex

    _, row, res = resolved_row("table1", "small")
    fake = {"enc_best": [0.5], "dec_best": [0.5], "enc_reader_best": [0.5], "reader_truth_cos": [0.5],
            **{k: 0.0 for k in ("mcc_decoder", "mcc_encoder", "uniqueness_decoder", "fvu", "dead_fraction", "l0",
                                "anchored_encoder_cos", "final_loss", "train_seconds", "key")}}
    bench_keys = set(ex.summarize(row, res, fake))
    truth = load_truth(data_dir)
    ours = evaluate(load_sae(_plain(tmp_path / "e.npz", truth.W_in.T, truth.W_in.T)), truth)
    assert bench_keys <= set(ours), bench_keys - set(ours)


def test_anchored_features_are_excluded(tmp_path, data_dir):
    """A dictionary holding only the anchored features recovers nothing that is scored."""
    truth = load_truth(data_dir)
    only = truth.W_in[:, truth.anchors].T
    row = evaluate(load_sae(_plain(tmp_path / "a.npz", only, only)), truth)
    assert row["M_GT_decoder"] == 0.0 and row["settings"]["excluded_anchors"] == truth.anchors.size
    rest = np.delete(truth.W_in, truth.anchors, axis=1).T
    row = evaluate(load_sae(_plain(tmp_path / "b.npz", rest, rest)), truth)
    assert row["M_GT_decoder"] == 1.0


def test_fvu_applies_biases_as_the_sae_does(tmp_path, data_dir):
    """FVU is computed from the SAE's own forward: b_dec subtracted from the input only when the file says
    so, b_enc added before the ReLU, b_dec added to the output (checked against numpy, written out here)."""
    from sdlscape.bench.metrics import fvu

    truth = load_truth(data_dir)
    W = truth.W_in.T.astype(np.float64)
    b = np.linspace(-0.2, 0.3, W.shape[1])
    b_enc = np.linspace(-0.05, 0.02, W.shape[0])
    x = truth.eval_x_in.astype(np.float64)
    fvus = {}
    for apply in (False, True):
        path = _plain(tmp_path / f"b{apply}.npz", W, W, b_dec=b, b_enc=b_enc, activation=np.array("relu"),
                      apply_b_dec_to_input=np.array(apply))
        codes = np.maximum((x - (b if apply else 0)) @ W.T + b_enc, 0)
        expected = fvu(truth.eval_x_out, codes @ W + b)
        fvus[apply] = evaluate(load_sae(path), truth)["fvu"]
        assert fvus[apply] == pytest.approx(expected, rel=1e-4)
    assert abs(fvus[True] - fvus[False]) > 1e-3     # the two readings differ: the flag is not ignored


def test_plain_orientation_is_explicit(tmp_path):
    rng = np.random.default_rng(1)
    We, Wd = rng.standard_normal((5, 12)), rng.standard_normal((12, 5))    # SAELens: d_in x d_sae, d_sae x d_out
    a = load_sae(_plain(tmp_path / "s.npz", We.T, Wd))
    np.savez(tmp_path / "l.npz", W_enc=We.T, W_dec=Wd.T, layout=np.array("linear"))   # nn.Linear layout
    b = load_sae(tmp_path / "l.npz")
    np.savez(tmp_path / "u.npz", W_enc=We.T, W_dec=Wd.T)                   # undeclared: read as SAELens's
    assert load_sae(tmp_path / "u.npz").d_sae == 5 != a.d_sae
    np.testing.assert_allclose(a.W_enc, b.W_enc, rtol=1e-6)
    np.testing.assert_allclose(a.W_dec, b.W_dec, rtol=1e-6)
    assert "nn.Linear" in b.info["orientation"] and "SAELens" in a.info["orientation"]
    x = torch.randn(3, 5)
    torch.testing.assert_close(a.decode(a.encode(x)), b.decode(b.encode(x)))


@pytest.mark.parametrize("files,msg", [
    ({"x.npz": dict(W_enc=np.ones((3, 4)))}, "needs arrays W_enc and W_dec"),
    ({"x.npz": dict(W_enc=np.ones((3, 4)), W_dec=np.ones((5, 6)))}, "share no latent dimension"),
    ({"x.npz": dict(W_enc=np.ones((4, 3)), W_dec=np.ones((2, 4)))}, "add layout='linear'"),
    ({"x.npz": dict(W_enc=np.ones((3, 4)), W_dec=np.ones((4, 3)), activation=np.array("gelu"))}, "not one of"),
    ({"x.npz": dict(W_enc=np.ones((3, 4)), W_dec=np.ones((4, 3)), activation=np.array("topk"))}, "needs k"),
    ({"x.npz": dict(W_enc=np.ones((3, 4)), W_dec=np.ones((4, 3)), b_enc=np.ones(7))}, "b_enc has 7"),
])
def test_bad_plain_files_are_one_line_errors(tmp_path, files, msg):
    for name, arrays in files.items():
        np.savez(tmp_path / name, **arrays)
    with pytest.raises(InputError, match=msg):
        load_sae(tmp_path / "x.npz")


def test_detect_format_refuses_unknown_things(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="unknown format"):
        detect_format(tmp_path / "notes.txt")
    with pytest.raises(InputError, match="not a SAELens folder"):
        detect_format(tmp_path)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="cannot read it as plain"):
        load_sae(tmp_path / "bad.npz")


def test_cli_evaluate_and_errors(tmp_path, data_dir, capsys):
    truth = load_truth(data_dir)
    sae = _plain(tmp_path / "e.npz", truth.W_in.T, truth.W_in.T, k=np.array(6))
    rng = np.random.default_rng(0)
    other = _plain(tmp_path / "o.npz", rng.standard_normal((60, 38)), rng.standard_normal((60, 38)))
    out = tmp_path / "r.json"
    assert main(["bench", "evaluate", "--sae", str(sae), "--truth", str(data_dir), "--sae2", str(sae),
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["rows"][0]["M_GT_decoder"] == 1.0 and res["compare"]["pw_mcc_decoder"] == pytest.approx(1.0)
    assert res["provenance"]["git_commit"] is not None or "git_commit" in res["provenance"]
    assert pw_mcc(load_sae(sae), load_sae(other))["pw_mcc_decoder"] < 0.9
    capsys.readouterr()
    for argv in (["--sae", str(tmp_path / "missing"), "--table", "table1"],     # no such file
                 ["--sae", str(sae)],                                            # no truth
                 ["--sae", str(sae), "--truth", str(data_dir), "--table", "table1"],   # two truths
                 ["--sae", str(sae), "--truth", str(tmp_path)],                  # not a bench folder
                 ["--sae", str(sae), "--table", "table4", "--method", "topk"]):  # table4 has no topk row
        assert main(["bench", "evaluate"] + argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "error" in err
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize("n,d", [(50, 38), (20, 38)])
def test_readers_equal_the_metrics_definition(n, d):
    """The Cholesky read-out equals metrics.reader_directions (full rank) and falls back when rank-deficient."""
    from sdlscape.bench.evaluate import _readers
    from sdlscape.bench.metrics import reader_directions

    W = np.random.default_rng(0).standard_normal((d, n))
    np.testing.assert_allclose(_readers(W), reader_directions(W), atol=1e-8)


def test_cli_data_errors_write_nothing(tmp_path, capsys):
    out = tmp_path / "d"
    for argv in (["--table", "table1"],                                    # no --out
                 ["--out", str(out)],                                      # neither --table nor --synth
                 ["--table", "table1", "--synth", "small", "--out", str(out)],
                 ["--synth", str(tmp_path / "none.json"), "--out", str(out)],
                 ["--table", "table9", "--out", str(out)],
                 ["--table", "table1", "--row", "99", "--out", str(out)]):
        assert main(["bench", "data"] + argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "error" in err
    assert list(tmp_path.iterdir()) == []
