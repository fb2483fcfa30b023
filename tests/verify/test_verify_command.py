"""`sdlscape verify`: verdict table on stdout, the verify result file, bad input exits 2."""
import json

from sdlscape.cli import main


def test_verify_command_writes_results(tmp_path, capsys):
    out = tmp_path / "v.json"
    rc = main(["verify", "--claim", "thm3.3", "--claim", "ex3.5", "--activation", "topk", "--json", str(out),
               "--counterexamples", str(tmp_path / "cx")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "thm3.3" in text and "ex3.5" in text and "wall time" in text
    data = json.loads(out.read_text())
    assert [(r["claim"], r["activation"]) for r in data["results"]] == [("thm3.3", "topk"), ("ex3.5", "topk")]
    by = {r["claim"]: r for r in data["results"]}
    assert by["thm3.3"]["status"] == "fails"  # plain TopK passes a negative interference (obtuse family)
    assert (tmp_path / "cx" / "thm3.3-topk.json").is_file()


def test_verify_command_with_instance(tmp_path, capsys):
    inst = tmp_path / "i.json"
    inst.write_text(json.dumps({"W_p": [[1, 0], [0, 1]], "M": [1, 1], "activation": {"name": "relu"},
                                "n_latents": 2}))
    assert main(["verify", "--claim", "thm3.6", "--instance", str(inst), "--counterexamples", str(tmp_path)]) == 0
    assert "thm3.6             relu       holds" in capsys.readouterr().out


def test_verify_command_bad_input(tmp_path, capsys):
    assert main(["verify", "--instance", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
