"""`sdlscape crosscheck` command: JSON contract, exit status 2 on bad input."""
import json

import pytest
import torch

from sdlscape.cli import main
from sdlscape.storage import write_json
from sdlscape.theory.instance import example_3_5, save_instance


@pytest.fixture()
def inst_file(tmp_path):
    p = tmp_path / "ex35.json"
    save_instance(example_3_5(), p)
    return p


def test_command_writes_the_contract(inst_file, tmp_path, capsys):
    out = tmp_path / "res.json"
    rc = main(["crosscheck", str(inst_file), "--starts", "40", "--steps", "800", "--json", str(out)])
    assert rc == 0
    d = json.loads(out.read_text())
    assert d["starts"] == 40
    assert set(d["outcomes"]) == {"global", "spurious", "leaves_region", "not_converged"}
    assert isinstance(d["disagreements"], int)
    assert "provenance" in d and "resampling" in d and "by_init" in d
    assert "outcomes:" in capsys.readouterr().out


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as e:          # argparse usage errors
        return e.code


@pytest.mark.parametrize("extra", [["--starts", "0"], ["--starts", "3", "--steps", "0"],
                                   ["--starts", "3", "--init", "weird"], ["--starts", "x"]])
def test_bad_arguments_exit_2(inst_file, extra):
    assert _exit_code(["crosscheck", str(inst_file)] + extra) == 2


def test_errors_exit_2_with_one_line(inst_file, tmp_path, capsys):
    assert main(["crosscheck", str(inst_file), "--starts", "0"]) == 2
    assert main(["crosscheck", str(tmp_path / "missing.json"), "--starts", "3"]) == 2
    bad = tmp_path / "land.json"
    write_json(bad, {"summary": {"n": 5}, "pieces": []})
    assert main(["crosscheck", str(inst_file), "--starts", "3", "--landscape", str(bad)]) == 2
    if not torch.cuda.is_available():
        assert main(["crosscheck", str(inst_file), "--starts", "3", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("sdlscape crosscheck: error:") for line in err)
