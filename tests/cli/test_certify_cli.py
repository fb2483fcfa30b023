"""The certify command through sdlscape.cli.main: global and --pattern modes, the JSON result format
(ARCHITECTURE.md), resume from a checkpoint, and exit 2 with nothing written on bad input."""
import json

import numpy as np
import pytest

from sdlscape.cli import main
from sdlscape.solvers.checkpoint import load_checkpoint
from sdlscape.theory.instance import random_unit, save_instance
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern, read_pattern

RESULT_KEYS = {"instance": dict, "mode": str, "value": float, "lower_bound": float, "certified": bool,
               "rtol": float, "minimiser": dict, "pieces": list, "seconds": float}


@pytest.fixture
def inst_file(tmp_path):
    inst = random_unit(4, 2, "relu", n_latents=2, seed=0)
    p = tmp_path / "inst.json"
    save_instance(inst, p)
    return inst, p


def _check_format(d: dict, mode: str) -> None:
    for k, t in RESULT_KEYS.items():
        assert isinstance(d[k], t), (k, type(d[k]))
    assert d["mode"] == mode
    assert set(d["minimiser"]) >= {"W_E", "W_D", "pattern"}
    assert all({"pattern", "value", "lower_bound", "certified", "infimum_on_boundary", "boundary_face"} <= set(p)
               for p in d["pieces"])


def _check_minimiser(inst, d: dict) -> None:
    """The reported minimiser is an interior point of its piece whose L~ is the reported value."""
    W_E, W_D = np.array(d["minimiser"]["W_E"]), np.array(d["minimiser"]["W_D"])
    pat = Pattern.parse(d["minimiser"]["pattern"], inst.n, inst.n_latents)
    assert read_pattern(inst, W_E, inst.activation.linear_reading).canonical() == pat.canonical()
    assert abs(approx_loss(inst, W_D, W_E) - d["value"]) <= 1e-9 * max(1.0, d["value"])


def test_global_mode_writes_the_result_format(inst_file, tmp_path, capsys):
    inst, p = inst_file
    out = tmp_path / "cert.json"
    assert main(["certify", str(p), "--time-limit", "20", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    _check_format(d, "global")
    assert d["certified"] and d["value"] - d["lower_bound"] <= d["rtol"] * d["value"] + 1e-12
    assert d["value"] > 1e-3                                  # a non-trivial optimum
    assert d["value"] <= min(c["value"] for c in d["pieces"] if c["value"] is not None) + 1e-15
    assert d["lower_bound"] <= min(c["lower_bound"] for c in d["pieces"]) + 1e-15
    _check_minimiser(inst, d)
    text = capsys.readouterr().out
    assert "global minimum" in text and "certified at rtol 1e-07" in text and "NOT certified" not in text
    assert not (tmp_path / "cert.json.checkpoint.json").exists()


def test_pattern_mode_certifies_one_piece(inst_file, tmp_path, capsys):
    inst, p = inst_file
    g_out, out = tmp_path / "g.json", tmp_path / "piece.json"
    assert main(["certify", str(p), "--time-limit", "20", "--json", str(g_out)]) == 0
    g = json.loads(g_out.read_text())
    pat = g["minimiser"]["pattern"]
    assert main(["certify", str(p), "--pattern", json.dumps(pat), "--time-limit", "20", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    _check_format(d, "piece")
    assert len(d["pieces"]) == 1 and d["certified"]
    assert abs(d["value"] - g["value"]) <= 2 * d["rtol"] * g["value"]
    _check_minimiser(inst, d)
    assert "piece " in capsys.readouterr().out


def test_interrupted_global_run_resumes_from_its_checkpoint(inst_file, tmp_path, capsys, monkeypatch):
    import sdlscape.solvers.certify.global_min as GM

    inst, p = inst_file
    out = tmp_path / "cert.json"
    ck = tmp_path / "cert.json.checkpoint.json"
    real = GM.certify_task
    calls = {"n": 0}

    def interrupted(task):                    # one piece solved and checkpointed, then Ctrl-C
        calls["n"] += 1
        if calls["n"] >= 2:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(GM, "certify_task", interrupted)
    assert main(["certify", str(p), "--time-limit", "20", "--json", str(out)]) == 130
    assert ck.exists() and not out.exists()
    key = json.loads(ck.read_text().splitlines()[0])["key"]     # the journal's header
    assert len(load_checkpoint(ck, key)) >= 1
    monkeypatch.setattr(GM, "certify_task", real)
    assert main(["certify", str(p), "--time-limit", "20", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["detail"]["resumed"] >= 1 and d["certified"]
    assert not ck.exists()
    # the resumed result is the one a fresh run gives
    fresh = tmp_path / "fresh.json"
    assert main(["certify", str(p), "--time-limit", "20", "--no-resume", "--json", str(fresh)]) == 0
    f = json.loads(fresh.read_text())
    assert f["detail"]["resumed"] == 0 and abs(f["value"] - d["value"]) <= 1e-12 * max(1.0, f["value"])


@pytest.mark.parametrize("argv, message", [
    (["--rtol", "2"], "rtol must be < 1"),
    (["--rtol", "0"], "must be > 0"),
    (["--time-limit", "-1"], "must be > 0"),
    (["--workers", "x"], "not an integer"),
])
def test_bad_arguments_exit_2(inst_file, tmp_path, argv, message, capsys):
    _, p = inst_file
    out = tmp_path / "o.json"
    with pytest.raises(SystemExit) as e:
        main(["certify", str(p), *argv, "--json", str(out)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.strip()
    assert not out.exists()


@pytest.mark.parametrize("pattern, message", [
    ("[[0], [", "pattern"),
    ("[[0, 1, 2, 3, 9], []]", "features are 0..3"),
])
def test_bad_pattern_exits_2_and_writes_nothing(inst_file, tmp_path, pattern, message, capsys):
    _, p = inst_file
    out = tmp_path / "o.json"
    assert main(["certify", str(p), "--pattern", pattern, "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err.lower() and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_unrealizable_pattern_is_a_finding_exit_0(inst_file, tmp_path, capsys):
    inst, p = inst_file
    # a latent firing on exactly two features is unrealizable for some pair of 4 directions in R^2
    from sdlscape.theory.piece import Piece

    bad = None
    for a in range(inst.n):
        for b in range(a + 1, inst.n):
            pat = Pattern.parse([[a, b], []], inst.n, inst.n_latents)
            if not Piece(inst, pat, 1e-3, inst.activation.linear_reading).realizable:
                bad = pat
                break
        if bad is not None:
            break
    assert bad is not None
    out = tmp_path / "o.json"
    assert main(["certify", str(p), "--pattern", json.dumps(bad.to_json()), "--json", str(out)]) == 0
    assert "NOT realizable" in capsys.readouterr().out          # as `piece`: a finding, not bad input
    res = json.loads(out.read_text())
    assert res["realizable"] is False and res["certified"] is False and res["pieces"] == []


def test_missing_instance_exits_2(tmp_path, capsys):
    assert main(["certify", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_max_pieces_is_an_option_of_certify(inst_file, tmp_path, capsys):
    """The refusal of a large instance names --max-pieces: certify accepts it."""
    _, p = inst_file
    assert main(["certify", str(p), "--max-pieces", "1"]) == 2
    err = capsys.readouterr().err
    assert "--max-pieces 1" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("kw", [{"rtol": 2.0}, {"rtol": 0.0}, {"time_limit": -1.0}, {"time_limit": float("nan")},
                                {"atol": -1.0}, {"node_limit": 0}])
def test_certify_piece_refuses_bad_budgets(inst_file, kw):
    from sdlscape.errors import InputError
    from sdlscape.solvers.certify import certify_piece
    from sdlscape.theory.piece import Piece

    inst, _ = inst_file
    piece = Piece(inst, Pattern.parse([[0], []], inst.n, inst.n_latents), 1e-3, inst.activation.linear_reading)
    with pytest.raises(InputError):
        certify_piece(piece, **kw)
