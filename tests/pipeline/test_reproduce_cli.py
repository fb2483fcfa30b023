"""reproduce and figures: report files, resume from the stage cache, redraw from saved results."""
import json

import pytest

from sdlscape.cli import main
from sdlscape.pipeline import reproduce as R


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep")
    code = main(["reproduce", "--out", str(out), "--only", "landscape", "--no-progress"])
    return out, code


def test_reproduce_writes_report(small_run):
    out, code = small_run
    assert code == 0
    md = (out / "report.md").read_text()
    assert "## Landscapes of small instances" in md and "example-3.5" in md
    assert "data:image/png;base64," in (out / "report.html").read_text()
    report = json.loads((out / "report.json").read_text())
    ex = report["landscapes"]["example-3.5"]["summary"]
    assert ex["counts"]["global"] >= 1 and ex["counts"]["spurious"] >= 1  # Example 3.5 has both kinds
    assert (out / "figures" / "landscape_example-3.5.png").stat().st_size > 1000


def test_rerun_resumes_from_cache(small_run, monkeypatch):
    out, _ = small_run

    def boom(*a, **k):
        raise AssertionError("a finished stage was recomputed")

    monkeypatch.setattr(R, "stage_landscape", boom)
    assert main(["reproduce", "--out", str(out), "--only", "landscape", "--no-progress"]) == 0


def test_figures_from_saved_results_do_not_recompute(small_run, tmp_path, monkeypatch):
    out, _ = small_run
    monkeypatch.setattr(R, "reproduce", lambda *a, **k: pytest.fail("figures --from recomputed"))
    listing = tmp_path / "figs.json"
    assert main(["figures", "--out", str(tmp_path / "f"), "--from", str(out), "--json", str(listing)]) == 0
    names = json.loads(listing.read_text())
    assert "landscape_example-3.5" in names and "fig4_zero_loss" in names and "thm31_bound" in names


def test_bad_inputs_exit_2(tmp_path):
    assert main(["figures", "--out", str(tmp_path), "--from", str(tmp_path / "missing")]) == 2
    assert main(["reproduce", "--out", str(tmp_path / "r"), "--device", "tpu"]) == 2
    assert not (tmp_path / "r" / "report.md").exists()


def test_source_hash_follows_the_source(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    (tmp_path / "other.py").write_text("y = 1\n")
    h1 = R.source_hash(("pkg",), root=tmp_path)
    (tmp_path / "other.py").write_text("y = 2\n")           # not a source of this stage
    assert R.source_hash(("pkg",), root=tmp_path) == h1
    (pkg / "a.py").write_text("x = 2\n")
    assert R.source_hash(("pkg",), root=tmp_path) != h1
    assert R.source_hash(("pkg", "other.py"), root=tmp_path) != R.source_hash(("pkg",), root=tmp_path)


def test_stage_cache_recomputes_when_its_source_changes(tmp_path, monkeypatch):
    cache = R.StageCache(tmp_path, lambda m: None)
    calls = []
    fn = lambda: calls.append(1) or {"v": len(calls)}  # noqa: E731
    assert cache.run("verify", {"budget": "quick"}, fn) == {"v": 1}
    assert cache.run("verify", {"budget": "quick"}, fn) == {"v": 1} and len(calls) == 1
    assert cache.records["verify"]["cached"] is True and cache.records["verify"]["computed_utc"]
    assert cache.run("verify", {"budget": "full"}, fn) == {"v": 2}          # another configuration
    real_hash = R.source_hash
    monkeypatch.setattr(R, "source_hash", lambda parts, root=None: real_hash(parts, root) + "changed")
    assert cache.run("verify", {"budget": "quick"}, fn) == {"v": 3}          # the code changed: recomputed
    with pytest.raises(KeyError):
        cache.key("unknown-stage", {})


def test_report_states_compute_time_and_skipped_sections(small_run):
    out, _ = small_run
    assert main(["reproduce", "--out", str(out), "--only", "landscape", "--no-progress"]) == 0  # all cached
    report = json.loads((out / "report.json").read_text())
    stages = report["stages"]
    assert stages and all(r["cached"] for r in stages.values())
    compute = sum(r["seconds"] for r in stages.values())
    assert report["provenance"]["compute_seconds"] == pytest.approx(compute)
    md = (out / "report.md").read_text()
    assert f"Compute time of these results: {compute:.0f} s over {len(stages)} stages" in md
    assert "reused from the cache" in md
    assert set(report["skipped"]) == {"verify", "crosscheck", "bench", "real"}
    assert "Not in this report" in md and "Linear Representation Bench (bench)" in md


def test_a_resumed_bench_stage_records_the_rows_training_time(tmp_path):
    """A table assembled from cached rows in 2 s still reports the seconds its rows took to train."""
    from sdlscape.pipeline.bench_stages import row_train_seconds
    from sdlscape.pipeline.reproduce import StageCache

    table = {"rows": [{"train_seconds": 10.0, "per_seed": [{}, {}, {}]}, {"train_seconds": 4.0, "per_seed": [{}]}]}
    assert row_train_seconds(table) == 34.0
    # a table's recorded total counts its coefficient-search trials too, which no row's seeds show
    assert row_train_seconds({**table, "train_seconds": 61.5}) == 61.5
    cache = StageCache(tmp_path, lambda msg: None)
    cache.store("bench-t", {"t": 1}, {**table, "compute_seconds": row_train_seconds(table)}, 2.0)
    assert cache.records["bench-t"]["seconds"] == 34.0
    cache.store("bench-t", {"t": 2}, {"rows": []}, 2.0)      # no compute_seconds: the elapsed time
    assert cache.records["bench-t"]["seconds"] == 2.0
    cache.store("bench-t", {"t": 3}, {"rows": [], "compute_seconds": 1.0}, 5.0)   # computed now: elapsed is larger
    assert cache.records["bench-t"]["seconds"] == 5.0


def _static_import_closure(entries: list[str]) -> set[str]:
    """Files (relative to the sdlscape package) that the entry modules import, transitively, by import statements
    anywhere in their bodies (function-level imports included)."""
    import ast
    from pathlib import Path

    pkg = Path(R.__file__).resolve().parent.parent

    def file_of(name: str):
        p = pkg.parent.joinpath(*name.split("."))
        if (p / "__init__.py").exists():
            return p / "__init__.py"
        return p.with_suffix(".py") if p.with_suffix(".py").exists() else None

    seen, todo = set(), [file_of(e) for e in entries]
    while todo:
        f = todo.pop()
        if f is None or f in seen:
            continue
        seen.add(f)
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module, *(f"{node.module}.{a.name}" for a in node.names)] \
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
            todo += [file_of(n) for n in names if n.startswith("sdlscape.")]
    return {str(f.relative_to(pkg)) for f in seen}


# The computation behind each stage; modules that only write files or raise errors do not change results.
STAGE_ENTRIES = {"landscape": ["sdlscape.solvers.landscape"], "crosscheck": ["sdlscape.verify.crosscheck"],
                 "bench": ["sdlscape.bench.experiments"], "real": ["sdlscape.bench.real"],
                 "encoder": ["sdlscape.bench.encoder"], "verify": ["sdlscape.verify.claims"]}
NOT_NUMERIC = {"errors.py", "storage.py", "schema.py", "formatting.py",   # formatting: printed text only
               "solvers/fanout.py"}    # fanout only distributes tasks; each task computes the same numbers anywhere


@pytest.mark.parametrize("stage", sorted(STAGE_ENTRIES))
def test_every_module_a_stage_imports_is_in_its_sources(stage):
    """A module split out of a stage's source (e.g. solvers/torch_codes.py from gradient.py) must invalidate it."""
    sources = R.STAGE_SOURCES[stage]
    missing = sorted(f for f in _static_import_closure(STAGE_ENTRIES[stage]) - NOT_NUMERIC
                     if not any(f == s or f.startswith(s.rstrip("/") + "/") for s in sources))
    assert missing == [], f"stage {stage!r} does not hash {missing}"


def test_the_closure_check_would_catch_a_missing_module():
    closure = _static_import_closure(["sdlscape.bench.experiments"])
    assert "solvers/torch_codes.py" in closure and "bench/scales.py" in closure


def test_bench_stages_computed_now_are_not_reported_as_cached_and_count_shared_trainings_once(tmp_path, monkeypatch,
                                                                                            no_calibration_record):
    """A cold bench stage: tables computed by this invocation (not 'reused from the cache'); Table 7's k = 128
    rows are Table 1's TopK rows, trained once and counted once; a rerun reads the stages back (searches from the
    generic hints: the trial counts below are theirs)."""
    from dataclasses import replace

    from sdlscape.bench import experiments as ex
    from sdlscape.pipeline import bench_stages as B

    def fake(res, progress=False):
        n = res.bench.n
        coef = getattr(res.train, res.train.code().coef_field)
        return {"key": res.key(), "enc_best": [0.95] * n, "dec_best": [0.99] * n, "enc_best_all": [0.95] * n,
                "mcc_decoder": 0.9, "mcc_encoder": 0.5, "uniqueness_decoder": 1.0, "fvu": 0.1, "dead_fraction": 0.0,
                "l0": 0.5 * 0.19 / coef if res.settings.get("calibration") else 3.0, "anchored_encoder_cos": None,
                "final_loss": 1.0, "final_coef": None, "train_seconds": 1.0, "seconds": 1.0}

    monkeypatch.setattr(ex, "train_and_measure", fake)
    monkeypatch.setattr(B, "bench_workers", lambda device, scheduler: 1)
    sc = replace(R.SCALES["small"], bench_tables=("table1", "table7"))
    logs = []
    cache = R.StageCache(tmp_path, logs.append)
    tables, run = B.run_bench_stages(cache, sc, "cpu", 0, tmp_path, progress=True)
    assert run["jobs"] == 42 + 12 and run["trained_now"] == run["trainings"] and run["read_from_cache"] == 0
    recs = cache.records
    assert not recs["bench-table1"]["cached"] and not recs["bench-table7"]["cached"]
    t7 = tables["table7"]
    assert t7["trainings"] == 18 and t7["shared_trainings"] == 6 and t7["shared_with"] == ["table1"]
    assert t7["compute_seconds"] == 12.0 and "6 of them, 6 s, shared with table1" in t7["compute_note"]
    assert recs["bench-table1"]["seconds"] + recs["bench-table7"]["seconds"] == run["train_seconds"]
    assert any("row x seed jobs done (table1" in m for m in logs)            # progress lines
    again = R.StageCache(tmp_path, logs.append)
    tables2, run2 = B.run_bench_stages(again, sc, "cpu", 0, tmp_path, progress=False)
    assert again.records["bench-table7"]["cached"] and run2["tables_from_stage_cache"] == ["table1", "table7"]
    assert tables2["table7"]["rows"] == tables["table7"]["rows"]
    # the stage files gone (their source changed), the trainings still in the row cache: the tables are
    # assembled again, and the report says so instead of 'computed'
    from sdlscape.pipeline.report import header_blocks, invocation

    for f in tmp_path.glob("bench-table*.json"):
        f.unlink()
    third = R.StageCache(tmp_path, logs.append)
    B.run_bench_stages(third, sc, "cpu", 0, tmp_path, progress=False)
    rec = third.records["bench-table1"]
    assert not rec["cached"] and rec["trained_now"] == 0 and rec["read_from_row_cache"] == rec["trainings"] == 54
    assert invocation(rec) == "assembled from 54 trainings in the row cache (computed earlier)"
    assert invocation(recs["bench-table1"]) == "computed" and invocation({"cached": True}) == "cached"
    head = header_blocks({"stages": third.records, "provenance": {"seconds": 3.0}})[0].text
    assert "(2 reused from the cache, computed earlier; this invocation took 3 s)" in head
