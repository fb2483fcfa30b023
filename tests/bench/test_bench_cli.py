"""Tests of `sdlscape bench`: bad input exits 2 with one line; a tiny custom run writes its JSON."""
import json

import numpy as np
import pytest

from sdlscape.cli import main


@pytest.mark.parametrize("argv, needle", [
    (["--p-active", "0"], "p-active"),
    (["--p-active", "1.5"], "p-active"),
    (["--max-interference", "1.0"], "max-interference"),
    (["--max-interference", "0"], "max-interference"),
    (["--k", "5000", "--n-latents", "100"], "k="),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, needle):
    out = tmp_path / "r.json"
    rc = main(["bench", "custom", "--no-progress", "--json", str(out)] + argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and needle in err
    assert not out.exists()


def test_anchors_with_wrong_dimension_exit_2(tmp_path, capsys):
    bad = tmp_path / "anchors.npy"
    np.save(bad, np.ones((3, 7)))                # small-scale SAE has d_in = 38
    rc = main(["bench", "custom", "--no-progress", "--anchors", str(bad), "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "anchors" in err
    assert not (tmp_path / "r.json").exists()


def test_unknown_table_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "table99"])
    assert exc.value.code == 2


def test_tiny_custom_run_writes_json_and_export(tmp_path, capsys):
    out = tmp_path / "r.json"
    exp = tmp_path / "sae"
    rc = main(["bench", "custom", "--method", "topk", "--steps", "20", "--n-latents", "64", "--k", "8",
               "--no-progress", "--threads", "1", "--json", str(out), "--export", str(exp)])
    assert rc == 0
    res = json.loads(out.read_text())
    row = res["rows"][0]
    assert res["table"] == "custom" and row["method"] == "topk"
    assert 0.0 <= row["M_GT"] <= 1.0 and 0.0 <= row["M_IP"] <= 1.0
    assert {"git_commit", "device", "versions", "seconds", "command"} <= set(res["provenance"])
    assert (exp / "sae_weights.safetensors").exists() and (exp / "cfg.json").exists()
    assert "TopK SAE" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["table1", "--methods", "nosuch"], "unknown method 'nosuch'"),
    (["table4", "--methods", "topk"], "table4 has no rows for topk"),
    (["custom", "--methods", "topk"], "custom takes --method"),
    (["table1", "--methods", ","], "at least one method"),
])
def test_bad_methods_exit_2_with_one_line(tmp_path, capsys, argv, needle):
    out = tmp_path / "r.json"
    rc = main(["bench"] + argv + ["--no-progress", "--json", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_methods_keeps_only_those_rows(tmp_path, capsys):
    out = tmp_path / "t1.json"
    rc = main(["bench", "table1", "--methods", "topk", "--steps", "10", "--seeds", "1", "--no-progress",
               "--threads", "1", "--json", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert [(r["method"], r["anchoring"]) for r in res["rows"]] == [("topk", False), ("topk", True)]
    assert res["title"].endswith("rows of topk only") and res["rows"][0]["paper_M_GT"] == pytest.approx(0.849)


def test_encoder_experiment_from_the_command_line(tmp_path, capsys, monkeypatch):
    """`sdlscape bench encoder` runs bench/encoder.py at a scale, prints its paragraph and writes the JSON."""
    from sdlscape.bench import encoder as enc

    short = {"oracle": 20, "free": 20, "early": 20}
    real = enc.run_encoder_experiment
    monkeypatch.setattr(enc, "run_encoder_experiment", lambda *a, **kw: real(*a, **kw, steps=short))
    out = tmp_path / "enc.json"
    rc = main(["bench", "encoder", "--scale", "small", "--threads", "1", "--no-progress", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0 and text.startswith("Oracle (small scale, n = 50")
    res = json.loads(out.read_text())
    assert res["settings"]["steps"] == short and res["provenance"]["seconds"] > 0
    assert set(res["hypotheses"]) == {"decoder_measured", "tied", "early_stopping"}


def test_provenance_records_memory_threads_and_load():
    """A result's provenance carries what its wall time needs beside it on a shared machine."""
    import torch

    from sdlscape.storage import provenance

    torch.set_num_threads(1)
    big = bytearray(64 * 2**20)                     # the peak resident set now includes 64 MiB
    rec = provenance("cpu", 1.5)
    del big
    assert rec["seconds"] == 1.5 and rec["torch_threads"] == 1
    assert rec["peak_rss_mib"] >= 64 and len(rec["load_average"]) == 3
