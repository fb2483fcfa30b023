"""Tests of the table configurations, their scaling, and the resumable row cache."""
import json

import pytest

from sdlscape.bench import experiments as ex
from sdlscape.errors import InputError


def test_tables_have_paper_numbers_and_both_anchoring_modes():
    for t in ex.TABLES:
        rows = ex.table_rows(t)
        assert rows and {r.anchoring for r in rows} == {False, True}
    t1 = ex.table_rows("table1")
    assert len(t1) == 14 and all(r.tau == 0.95 for r in t1)
    t6 = ex.table_rows("table6")    # the paper's Table 1 values stand at the paper's tau = 0.95
    assert all(r.tau == (0.95 if r.p_active == 0.01 else 0.9) for r in t6)
    topk = [r for r in t1 if r.method == "topk" and not r.anchoring][0]
    assert topk.paper_M_GT == pytest.approx(0.849) and topk.paper_M_IP == pytest.approx(0.983)
    assert [r.n for r in ex.table_rows("table4")][::2] == [800, 900, 1000, 1100, 1200, 1300, 1400]


def test_small_scaling_keeps_ratios():
    sc = ex.SCALES["small"]
    r = ex.resolve(ex.Row("topk", True, n=1200, p_active=0.005, k=64), sc)
    assert r.bench.n == 60 and r.bench.n_p == 38 and r.train.n_latents == 800
    assert r.bench.p_active == pytest.approx(0.005) and r.train.k == 3     # p_active kept, k / 20
    for name in ("small", "medium", "paper"):                              # the paper's regime at every scale
        g = ex.SCALES[name].regime()
        assert g["L0_over_n_p"] == pytest.approx(10 / 768, rel=0.05) and g["n_over_n_p"] == pytest.approx(1.3, rel=0.02)
        assert g["n_latents_over_n"] == 16 and g["k_over_L0"] == pytest.approx(12.8, rel=0.07) and g["p_active"] == 0.01
    assert max(ex.resolve(r, sc).bench.p_active for r in ex.table_rows("table6")) == 0.1   # no x10 distortion
    relu = ex.resolve(ex.Row("relu", False), sc)
    topk = ex.resolve(ex.Row("topk", False), sc)
    # the target is the row's; its seeds train at searched fixed coefficients, not with the adaptive controller
    assert relu.settings["target_l0"] == pytest.approx(0.5) and relu.settings["calibration"] == "search"
    assert relu.train.target_l0 is None and topk.settings["target_l0"] is None and topk.settings["calibration"] is None
    assert r.train.anchor_coef == 0.1 and r.n_anchors == 5
    assert r.settings["p_active_paper"] == 0.005
    paper = ex.resolve(ex.Row("topk", False), ex.SCALES["paper"])
    assert (paper.bench.n, paper.bench.n_p, paper.train.n_latents, paper.bench.n_samples) == (1000, 768, 16000, 100_000)
    assert paper.bench.p_active == 0.01 and paper.train.k == 128
    cc = ex.resolve(ex.Row("crosscoder", False), sc)
    assert cc.bench.kind == "crosscoder" and cc.bench.n_sources == 2
    # a different row configuration gets a different cache key; the same one the same key
    assert r.key() == ex.resolve(ex.Row("topk", True, n=1200, p_active=0.005, k=64), sc).key()
    assert r.key() != ex.resolve(ex.Row("topk", False, n=1200, p_active=0.005, k=64), sc).key()


def test_bad_rows():
    with pytest.raises(InputError):
        ex.table_rows("table3")
    with pytest.raises(InputError, match="k="):
        ex.resolve(ex.Row("topk", False, k=100_000), ex.SCALES["small"])
    with pytest.raises(InputError, match="p_active"):
        ex.resolve(ex.Row("topk", False, p_active=0.0), ex.SCALES["small"])


def test_rows_are_cached_and_resume(tmp_path, monkeypatch):
    rows = [ex.Row("topk", False, n=200), ex.Row("topk", False, n=200, tau=0.5)]
    out = ex.run_rows(rows, "small", cache_dir=tmp_path, steps=10, seeds=2)
    assert len(list(tmp_path.glob("*.json"))) == 2                 # same configuration trained once per seed
    assert out[0]["keys"] == out[1]["keys"] and out[1]["M_GT"] >= out[0]["M_GT"]
    assert out[0]["n_seeds"] == 2 and out[0]["M_IP_sd"] is not None and out[0]["M_IP_sd"] >= 0
    cached = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert len(cached["enc_best"]) == 10 - 5                        # n = 10 at small scale, 5 anchors excluded

    def boom(*a, **k):
        raise AssertionError("should have been read from the cache")

    monkeypatch.setattr(ex, "train_and_measure", boom)
    again = ex.run_rows(rows, "small", cache_dir=tmp_path, steps=10, seeds=2)
    assert again[0]["M_IP"] == out[0]["M_IP"]
