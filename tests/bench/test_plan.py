"""The bench plan: distinct (row x seed) jobs shared between tables, run inline / in processes / on Dask alike."""
import json

import pytest

from sdlscape.bench import experiments as ex
from sdlscape.bench import plan as pl
from sdlscape.bench import plan_run as pr
from sdlscape.bench.tables import TABLE_TITLES, Row, table_rows


def _tables(*names):
    return {t: (table_rows(t), TABLE_TITLES[t]) for t in names}


def test_rows_shared_between_tables_are_planned_once():
    plan = pl.make_plan(_tables("table1", "table4", "table7"), "small")
    per_table = {t: sum(len(ids) for ids in tp.jobs) for t, tp in plan.tables.items()}
    assert per_table == {"table1": 42, "table4": 42, "table7": 18}
    # Table 4's n = 1000 rows are Table 1's ReLU rows; Table 7's k = 128 rows are Table 1's TopK rows
    assert len(plan.jobs) == 42 + (42 - 6) + (18 - 6)
    t1 = plan.tables["table1"]
    relu = [ids for r, ids in zip(t1.rows, t1.jobs) if r.method == "relu"]
    t4 = plan.tables["table4"]
    assert [ids for r, ids in zip(t4.rows, t4.jobs) if r.n == 1000] == relu
    assert sorted(plan.tables_of(relu[0][0])) == ["table1", "table4"]
    order = plan.longest_first(plan.jobs)
    costs = [plan.jobs[i].cost for i in order]
    assert costs == sorted(costs, reverse=True) and plan.jobs[order[0]].search     # searches (several trainings) first


def _fake_train(res, progress=False):
    coef = getattr(res.train, res.train.code().coef_field)
    n = res.bench.n
    l0 = 0.5 * (0.19 / coef) if res.settings.get("calibration") else 3.0
    return {"key": res.key(), "enc_best": [0.7] * n, "dec_best": [0.99] * n, "enc_best_all": [0.5] * n,
            "mcc_decoder": 0.9, "mcc_encoder": 0.5, "uniqueness_decoder": 1.0, "fvu": 0.1, "dead_fraction": 0.0,
            "l0": l0, "anchored_encoder_cos": None, "final_loss": 1.0, "final_coef": None,
            "train_seconds": 2.0 if res.train.activation == "jumprelu" else 1.0, "seconds": 1.0}


def test_shared_trainings_are_counted_once_and_said(monkeypatch):
    monkeypatch.setattr(ex, "train_and_measure", _fake_train)
    a = [Row("topk", False), Row("jumprelu", False)]
    plan = pl.make_plan({"A": (a, "a"), "B": ([Row("topk", False, tau=0.5), Row("topk", True)], "b")}, "small",
                        seeds=2)
    results, stats = pr.execute(plan)
    acc = pl.training_accounting(plan, results)
    # jumprelu: 0.5 x (0.19 / coef) hits target 0.5 at the hint 0.191 (within 10%): one training per seed
    assert acc["A"] == {"trainings": 4, "train_seconds": 2 * 1.0 + 2 * 2.0, "shared_trainings": 2,
                        "shared_train_seconds": 2.0, "shared_with": ["B"], "own_trainings": 4,
                        "own_train_seconds": 6.0}
    assert acc["B"]["trainings"] == 4 and acc["B"]["own_trainings"] == 2 and acc["B"]["own_train_seconds"] == 2.0
    assert stats["trained_now"] == 6 == sum(acc[t]["own_trainings"] for t in acc)   # each training once
    table = pl.assemble(plan, "B", results)
    assert table["rows"][0]["keys"] == pl.assemble(plan, "A", results)["rows"][0]["keys"]
    assert table["rows"][0]["M_GT"] == 1.0 and pl.assemble(plan, "A", results)["rows"][0]["M_GT"] == 0.0  # tau 0.5


def test_an_interrupted_run_trains_only_what_the_row_cache_lacks(tmp_path, monkeypatch):
    trained = []
    monkeypatch.setattr(ex, "train_and_measure", lambda res, progress=False: trained.append(res.key())
                        or _fake_train(res))
    rows = [Row("topk", False), Row("relu", True)]
    first = ex.run_rows(rows, "small", cache_dir=tmp_path, seeds=3)
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == len(set(trained)) == len(trained)
    for f in files[::2]:          # as if interrupted: half the trainings never finished
        f.unlink()
    lost = len(files[::2])
    trained.clear()
    stats = {}
    again = ex.run_rows(rows, "small", cache_dir=tmp_path, seeds=3, stats=stats)
    assert len(trained) == lost == stats["trained_now"]
    assert stats["read_from_cache"] == len(files) - lost
    assert json.dumps(again, sort_keys=True) == json.dumps(first, sort_keys=True)


def test_progress_lines_count_jobs_per_table_and_give_an_eta():
    plan = pl.make_plan({"A": ([Row("topk", False)], "a"), "B": ([Row("topk", False), Row("topk", True)], "b")},
                        "small", seeds=2)
    lines = []
    prog = pr.Progress(plan, list(plan.jobs), lines.append, every=0.0)
    assert "ETA -" in prog.line() and "A 0/2, B 0/4" in prog.line()
    first = next(iter(plan.jobs))
    prog.finished(first, {"trained_now": ["k1", "k2"]})
    assert "1/4 row x seed jobs done" in lines[-1] and "A 1/2, B 1/4" in lines[-1] and "2 trainings" in lines[-1]
    assert "ETA 0m" in lines[-1]
    prog.tick()                                   # every = 0: a heartbeat line at once
    assert len(lines) == 2


def _tiny_rows():
    return [Row("topk", False, n=200), Row("relu", True, n=200)]


@pytest.fixture(scope="module")
def inline_rows(tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)                      # as in a worker
    try:
        return ex.run_rows(_tiny_rows(), "small", cache_dir=tmp_path_factory.mktemp("inline"), steps=15, seeds=2)
    finally:
        torch.set_num_threads(threads)


def _same(a, b):
    drop = ("train_seconds", "train_seconds_sd")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in drop} for r in rows]   # noqa: E731
    assert json.dumps(strip(a), sort_keys=True) == json.dumps(strip(b), sort_keys=True)


@pytest.mark.slow
def test_local_processes_give_the_inline_rows(inline_rows, tmp_path):
    _same(ex.run_rows(_tiny_rows(), "small", cache_dir=tmp_path, steps=15, seeds=2, workers=2), inline_rows)


@pytest.mark.slow
def test_a_dask_cluster_gives_the_inline_rows_and_resumes(inline_rows, tmp_path, monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cl:
        stats = {}
        rows = ex.run_rows(_tiny_rows(), "small", cache_dir=tmp_path, steps=15, seeds=2,
                           scheduler=cl.scheduler_address, stats=stats)
        _same(rows, inline_rows)
        assert stats["trained_now"] == len(list(tmp_path.glob("*.json"))) >= 4      # the row cache is filled
        monkeypatch.setattr(ex, "train_and_measure", lambda *a, **k: pytest.fail("retrained a cached row"))
        again = {}
        _same(ex.run_rows(_tiny_rows(), "small", cache_dir=tmp_path, steps=15, seeds=2,
                          scheduler=cl.scheduler_address, stats=again), inline_rows)
        assert again["trained_now"] == 0 and again["jobs_from_cache"] == again["jobs"] == 4
