"""`bench real --source npz:PATH`: one's own activations (x, labels, optional class names and texts)."""
import numpy as np
import pytest

from sdlscape.bench import real, real_sources
from sdlscape.cli import main
from sdlscape.errors import InputError


def _clusters(path, n_classes=6, per=80, d=16, seed=0, **extra):
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((n_classes, d)) * 3
    labels = np.repeat(np.arange(n_classes), per)
    x = means[labels] + rng.standard_normal((labels.size, d))
    np.savez(path, x=x.astype(np.float32), labels=labels, **extra)
    return path, x, labels


def test_npz_source_is_read_as_given(tmp_path):
    names = np.array([f"class-{c}" for c in "abcdef"])
    texts = np.array([f"row {i}" for i in range(480)])
    path, x, labels = _clusters(tmp_path / "acts.npz", class_names=names, texts=texts)
    reps = real_sources.load_source(f"npz:{path}", real.SCALES["tiny"])
    np.testing.assert_array_equal(reps.x, x.astype(np.float32))
    np.testing.assert_array_equal(reps.labels, labels)
    assert reps.class_names == tuple(names) and reps.display[7] == "row 7" and reps.display_kind == "text"


def test_table_runs_on_npz_activations(tmp_path):
    path, x, labels = _clusters(tmp_path / "acts.npz")
    res = real.run_real_table(f"npz:{path}", "tiny", seed=0, methods=("topk",))
    s = res["setup"]
    assert s["n_inputs"] == 480 and s["n_p"] == 16 and s["class_names"] == [str(c) for c in range(6)]
    assert len(res["rows"]) == 2 and {r["anchoring"] for r in res["rows"]} == {False, True}
    assert s["representations"]["file"].endswith("acts.npz")


@pytest.mark.parametrize("arrays,msg", [
    (dict(x=np.ones((5, 3))), "needs arrays x"),
    (dict(x=np.ones(5), labels=np.zeros(5, int)), "N x d matrix"),
    (dict(x=np.ones((5, 3)), labels=np.zeros(4, int)), "labels must be 5"),
    (dict(x=np.ones((5, 3)), labels=np.zeros(5, int)), "need >= 2"),
    (dict(x=np.full((4, 3), np.nan), labels=np.array([0, 1, 0, 1])), "NaN"),
    (dict(x=np.ones((4, 3)), labels=np.array([0, 1, 2, 1]), class_names=np.array(["a", "b"])), "3 classes"),
])
def test_bad_npz_is_a_one_line_error(tmp_path, arrays, msg):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=msg):
        real_sources.load_source(f"npz:{tmp_path / 'bad.npz'}", real.SCALES["tiny"])


def test_cli_refuses_missing_file(tmp_path, capsys):
    assert main(["bench", "real", "--source", f"npz:{tmp_path / 'none.npz'}"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["bench", "real", "--source", "mnist"]) == 2
    assert "npz:PATH" in capsys.readouterr().err
