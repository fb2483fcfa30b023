"""The realizable command through the command line: results, JSON file, exit status 2 on bad input."""
import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from sdlscape.cli import main


@pytest.fixture
def inst_file(tmp_path):
    p = tmp_path / "inst.json"
    p.write_text(json.dumps({"W_p": [[1, 0, 0.6], [0, 1, 0.8]], "M": [1, 1, 2],
                             "activation": {"name": "relu"}, "n_latents": 2}))
    return p


def test_realizable_writes_witness(inst_file, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["realizable", str(inst_file), "--pattern", "[[0,2],[1]]", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["realizable"] is True
    W = np.array(res["witness"])
    Z = W @ np.array([[1, 0, 0.6], [0, 1, 0.8]])
    assert np.array_equal(Z > 0, [[True, False, True], [False, True, False]])
    assert "REALIZABLE" in capsys.readouterr().out


def test_unrealizable_writes_certificate(inst_file, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["realizable", str(inst_file), "--pattern", "[[0,1],[]]", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    cert = res["certificate"]
    assert res["realizable"] is False and cert["farkas_y"]
    y = [Fraction(v) for v in cert["farkas_y_exact"]]          # the rationals the exact check accepted
    assert len(y) == len(cert["farkas_y"]) and all(v >= 0 for v in y) and any(v > 0 for v in y)
    assert cert["farkas_y"] == [float(v) for v in y]
    assert "farkas_y_exact" in capsys.readouterr().out


@pytest.mark.parametrize("instance, pattern, message", [
    ({"W_p": [[1, 0], [0, 2]], "activation": {"name": "relu"}, "n_latents": 2}, "[[0],[1]]", "norm"),
    ({"W_p": [[1, 0], [0, 1]], "W_r": [[1, 0, 0]], "activation": {"name": "relu"}, "n_latents": 2}, "[[0],[1]]", "columns"),
    ({"W_p": [[1, 0], [0, 1]], "activation": {"name": "relu"}, "n_latents": 2}, "[[0],[5]]", "feature 5"),
    ({"W_p": [[1, 0], [0, 1]], "activation": {"name": "topk", "k": 3}, "n_latents": 2}, "[[0],[1]]", "exceeds"),
    ({"W_p": [[1, 0], [0, 1]], "activation": {"name": "jumprelu", "theta": -1}, "n_latents": 2}, "[[0],[1]]", "theta"),
    ({"W_p": [[1, 0], [0, 1]], "activation": {"name": "relu"}, "n_latents": 2}, "[[0]]", "n_latents"),
])
def test_bad_input_exit_2_one_line_nothing_written(tmp_path, instance, pattern, message):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(instance).replace("NaN", "NaN"))
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "sdlscape.cli", "realizable", str(p), "--pattern", pattern,
                           "--json", str(out)], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not out.exists()


def test_nan_and_unreadable(tmp_path):
    p = tmp_path / "nan.json"
    p.write_text('{"W_p": [[NaN, 0], [0, 1]], "activation": {"name": "relu"}, "n_latents": 2}')
    assert main(["realizable", str(p), "--pattern", "[[0],[1]]"]) == 2
    assert main(["realizable", str(tmp_path / "none.json"), "--pattern", "[[0],[1]]"]) == 2
    q = tmp_path / "nonunit.json"
    q.write_text('{"W_p": [[3, 0], [4, 1]], "activation": {"name": "relu"}, "n_latents": 2}')
    assert main(["realizable", str(q), "--pattern", "[[0],[1]]"]) == 2
    assert main(["realizable", str(q), "--pattern", "[[0],[1]]", "--normalize"]) == 0


def test_help_lists_commands():
    proc = subprocess.run([sys.executable, "-m", "sdlscape.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "realizable" in proc.stdout
