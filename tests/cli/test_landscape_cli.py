"""The landscape command through sdlscape.cli.main: JSON/CSV output, resume, and exit 2 on bad input."""
import csv
import json

import pytest

from sdlscape.cli import main
from sdlscape.theory.activations import TopK
from sdlscape.theory.instance import example_3_5, random_unit, save_instance


@pytest.fixture
def ex35_file(tmp_path):
    p = tmp_path / "ex35.json"
    save_instance(example_3_5(), p)
    return p


def test_landscape_writes_json_and_csv(ex35_file, tmp_path, capsys):
    out, table = tmp_path / "land.json", tmp_path / "land.csv"
    rc = main(["landscape", str(ex35_file), "--starts", "2", "--json", str(out), "--csv", str(table), "--no-progress"])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["summary"]["pieces"] == 5 and d["summary"]["counts"]["global"] == 1
    assert abs(d["summary"]["global_value"]) < 1e-8
    assert d["provenance"]["git_commit"] is None or isinstance(d["provenance"]["git_commit"], str)
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 5 and {r["class"] for r in rows} <= {"global", "spurious", "leaves_region", "inconclusive"}
    text = capsys.readouterr().out
    assert "5 pieces" in text and "global value" in text and "upper bound" in text
    # a finished result leaves no checkpoint beside it
    assert not (tmp_path / "land.json.checkpoint.json").exists()


def test_interrupted_run_resumes_then_cleans_its_checkpoint(ex35_file, tmp_path, capsys, monkeypatch):
    import sdlscape.solvers.landscape as L

    out = tmp_path / "land.json"
    real_classify = L.classify

    def interrupted(*a, **k):          # every piece solved and checkpointed, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(L, "classify", interrupted)
    assert main(["landscape", str(ex35_file), "--starts", "2", "--json", str(out), "--no-progress"]) == 130
    assert (tmp_path / "land.json.checkpoint.json").exists() and not out.exists()
    monkeypatch.setattr(L, "classify", real_classify)
    assert main(["landscape", str(ex35_file), "--starts", "2", "--json", str(out), "--no-progress"]) == 0
    assert "resumed 5 pieces" in capsys.readouterr().out
    assert json.loads(out.read_text())["summary"]["resumed_pieces"] == 5
    assert not (tmp_path / "land.json.checkpoint.json").exists()


def test_too_large_instance_exits_2_before_starting(tmp_path, capsys):
    inst_file, out = tmp_path / "big.json", tmp_path / "big-out.json"
    save_instance(random_unit(8, 3, "relu", n_latents=4, seed=0), inst_file)
    rc = main(["landscape", str(inst_file), "--max-pieces", "100", "--json", str(out)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "more than --max-pieces 100" in err and "Zaslavsky" in err
    count = int(err.split(" has at least ")[1].split(" pieces")[0])
    assert count > 100
    assert not out.exists() and not (tmp_path / "big-out.json.checkpoint.json").exists()


def test_too_many_topk_patterns_exits_2(tmp_path, capsys):
    inst_file = tmp_path / "t.json"
    save_instance(random_unit(4, 2, TopK(k=1), n_latents=3, seed=0), inst_file)
    assert main(["landscape", str(inst_file), "--max-pieces", "2"]) == 2
    assert "--max-pieces 2" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--starts", "0"], "must be >= 1"),
    (["--workers", "x"], "not an integer"),
])
def test_bad_arguments_exit_2(ex35_file, argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(["landscape", str(ex35_file), *argv])
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_instance_exits_2(tmp_path, capsys):
    assert main(["landscape", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
