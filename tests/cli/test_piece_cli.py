"""The piece command through sdlscape.cli.main: Example 3.5, the JSON contract, exit 2 on bad input."""
import json

import numpy as np
import pytest

from sdlscape.cli import main
from sdlscape.theory.instance import example_3_5, save_instance


@pytest.fixture
def ex35(tmp_path):
    p = tmp_path / "ex35.json"
    save_instance(example_3_5(), p)
    return p


@pytest.fixture
def triangle(tmp_path):
    """Three relu features at 120 degrees, one latent: no encoder activates it for all three."""
    ang = np.array([0.0, 2 * np.pi / 3, 4 * np.pi / 3])
    p = tmp_path / "tri.json"
    p.write_text(json.dumps({"W_p": np.vstack([np.cos(ang), np.sin(ang)]).tolist(),
                             "activation": {"name": "relu"}, "n_latents": 1}))
    return p


def test_example_3_5_piece(ex35, tmp_path, capsys):
    out = tmp_path / "piece.json"
    rc = main(["piece", str(ex35), "--pattern", "[[0,1],[]]", "--starts", "3", "--seed", "1", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "partial_optimum" in text and "best loss: 1" in text
    res = json.loads(out.read_text())
    assert res["realizable"] is True and res["outcome"] == "partial_optimum"
    assert abs(res["best_loss"] - 1.0) <= 1e-6
    assert len(res["starts"]) == 3
    for s in res["starts"]:
        assert s["outcome"] in ("partial_optimum", "leaves_region", "inconclusive")
        assert {"loss", "W_E", "W_D", "certificate", "tolerances"} <= set(s)
        assert s["tolerances"]["eps"] == 1e-3
    assert res["eps"] == 1e-3 and res["seed"] == 1 and "provenance" in res


def test_solver_and_eps_options(ex35, tmp_path):
    out = tmp_path / "piece.json"
    assert main(["piece", str(ex35), "--pattern", "[[0,1],[]]", "--starts", "1", "--solver", "osqp",
                 "--eps", "1e-2", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["solver"] == "OSQP" and res["eps"] == 1e-2
    assert res["starts"][0]["tolerances"]["solver"] == "OSQP"
    assert abs(res["best_loss"] - 1.0) <= 1e-6


def test_unrealizable_pattern_is_a_finding_exit_0(triangle, tmp_path, capsys):
    out = tmp_path / "out.json"
    assert main(["piece", str(triangle), "--pattern", "[[0,1,2]]", "--json", str(out)]) == 0
    assert "NOT realizable" in capsys.readouterr().out
    res = json.loads(out.read_text())
    assert res["realizable"] is False and res["best_loss"] is None and res["starts"] == []
    assert res["realizability"]["status"] == "unrealizable" and res["outcome"] == "inconclusive"


@pytest.mark.parametrize("which, pattern, message", [
    ("ex35", "[[0,1]]", "n_latents"),
    ("ex35", "[[0,1],[0]]", "impossible pattern"),
    ("ex35", "[[0],[7]]", "feature 7"),
])
def test_bad_input_exit_2_nothing_written(request, tmp_path, capsys, which, pattern, message):
    inst = request.getfixturevalue(which)
    out = tmp_path / "out.json"
    rc = main(["piece", str(inst), "--pattern", pattern, "--json", str(out)])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def test_bad_option_exit_2(ex35, tmp_path):
    out = tmp_path / "out.json"
    for argv in (["--eps", "-1"], ["--starts", "0"], ["--solver", "nope"]):
        with pytest.raises(SystemExit) as exc:
            main(["piece", str(ex35), "--pattern", "[[0,1],[]]", "--json", str(out), *argv])
        assert exc.value.code == 2
    assert not out.exists()
