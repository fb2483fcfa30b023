"""`sdlscape verify`: the verdict table, the result file, counterexample folders, every pattern of a user's
instance searched (a counterexample at any position of its pattern list), bad input exits 2."""
import json

import numpy as np
import pytest

from sdlscape.cli import main


def test_verify_command_writes_results(tmp_path, capsys):
    out = tmp_path / "v.json"
    rc = main(["verify", "--claim", "thm3.3", "--claim", "ex3.5", "--activation", "topk", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "thm3.3" in text and "ex3.5" in text and "wall time" in text and "literal" in text
    assert "natural reading" in text
    data = json.loads(out.read_text())
    assert [(r["claim"], r["activation"], r["reading"]) for r in data["results"]] == [
        ("thm3.3", "topk", "def3.1"), ("ex3.5", "topk", "def3.1")]
    by = {r["claim"]: r for r in data["results"]}
    assert by["thm3.3"]["status"] == "fails" and by["thm3.3"]["severity"] == "literal"
    # default folder: beside the --json output, never the repository's results/
    assert (tmp_path / "v-counterexamples" / "thm3.3-topk.json").is_file()


def test_default_folder_without_json_is_in_the_working_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["verify", "--claim", "thm3.3", "--activation", "jumprelu"]) == 0
    assert (tmp_path / "sdlscape-counterexamples" / "thm3.3-jumprelu.json").is_file()


def _hidden_instance(perm):
    """4 features in R^4: w2 and w3 orthogonal with unequal weights, every other pair acute. A partition
    block has no positive eigenvector exactly when it is {w2, w3}: only the patterns with that block are
    counterexamples to Thm 3.6, and the permutation moves them along the pattern list."""
    e = np.eye(4)
    W = np.stack([e[0] + e[1] + e[2], e[0] + e[1] + e[3], e[0], e[1]], axis=1)
    W = W / np.linalg.norm(W, axis=0)
    M = np.array([1.0, 1.0, 1.0, 2.0])
    return {"W_p": W[:, perm].tolist(), "M": M[list(perm)].tolist(), "activation": {"name": "relu"}, "n_latents": 4}


@pytest.mark.parametrize("perm", [(0, 1, 2, 3), (0, 2, 1, 3), (3, 1, 2, 0)])
def test_instance_counterexample_at_any_position(tmp_path, capsys, perm):
    from sdlscape.theory.instance import Instance
    from sdlscape.theory.piece import Piece
    from sdlscape.verify.thm3_6 import Kind, criterion, partition_patterns

    d = _hidden_instance(perm)
    inst = Instance.from_dict(d)
    pats = partition_patterns(inst)
    bad = [k for k, P in enumerate(pats) if criterion(Piece(inst, P)).kind is Kind.NONE]
    assert len(bad) == 2 and len(pats) == 14
    path = tmp_path / "i.json"
    path.write_text(json.dumps(d))
    out = tmp_path / "v.json"
    assert main(["verify", "--claim", "thm3.6", "--instance", str(path), "--json", str(out)]) == 0
    (r,) = json.loads(out.read_text())["results"]
    assert r["status"] == "fails" and r["searched"]["patterns"] == 14 and r["searched"]["starts"] >= 4
    assert r["counterexample"]["recheck"]["agrees"]
    assert "COUNTEREXAMPLE" in capsys.readouterr().out


def test_verify_command_with_instance_holds(tmp_path, capsys):
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps({"W_p": [[1, 0], [0, 1]], "M": [1, 1], "activation": {"name": "relu"},
                                "n_latents": 2}))
    assert main(["verify", "--claim", "thm3.6", "--instance", str(inst), "--counterexamples", str(tmp_path)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("thm3.6"))
    assert line.split()[:4] == ["thm3.6", "relu", "def3.1", "holds"]


def test_verify_command_bad_input(tmp_path, capsys):
    assert main(["verify", "--instance", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_instance_without_parents_is_not_applicable_and_exits_0(tmp_path, capsys):
    # the README's example instance (no parents, n_latents = 2 < n = 3): thm3.8 and thm3.3 cannot apply
    inst = tmp_path / "readme.json"
    inst.write_text(json.dumps({"W_p": [[1, 0, 0.6], [0, 1, 0.8]], "M": [1, 1, 2], "activation": {"name": "relu"},
                                "n_latents": 2}))
    out = tmp_path / "v.json"
    rc = main(["verify", "--instance", str(inst), "--claim", "thm3.3", "--claim", "thm3.8", "--claim",
               "thm3.8-corrected", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "3 not applicable" in text and "0 hold" in text
    data = json.loads(out.read_text())
    assert [r["status"] for r in data["results"]] == ["not_applicable"] * 3
    assert all(r["rests_on"] == [] and r["severity"] is None for r in data["results"])
