"""The bench report section: tau in headings, L0 columns, anchoring differences judged against their noise."""
from sdlscape.pipeline.sections import bench as sec


def _row(anch, dec, sd, method="topk"):
    return {"method": method, "label": method, "anchoring": anch, "M_GT": 0.0, "M_IP": 0.5, "M_GT_decoder": dec,
            "M_GT_decoder_sd": sd, "M_GT_sd": 0.0, "l0": 0.5, "target_l0": None, "settings": {"tau": 0.95}}


def test_effect_only_beyond_noise():
    t = {"rows": [_row(False, 0.58, 0.10), _row(True, 0.42, 0.10), _row(False, 0.9, 0.01), _row(True, 0.5, 0.01)]}
    v = [e["verdict"] for e in sec.anchoring_effects(t)]
    assert v == ["within noise", "effect"]          # 0.16 < 2*sqrt(0.02) = 0.28; 0.4 > 0.028


def test_one_seed_gets_no_verdict_and_tau_is_in_heading():
    t = {"title": "T", "scale": "small", "regime": "small: n=50", "rows": [_row(False, 0.5, None), _row(True, 0.6, None)]}
    assert sec.anchoring_effects(t)[0]["verdict"].startswith("no noise estimate")
    blocks = sec.blocks({"bench": {"table1": t}})
    text = " ".join(str(getattr(b, "text", "")) for b in blocks)
    assert "tau = 0.95" in text and "Regime: small: n=50" in text


def test_tables_not_run_at_a_scale_are_named():
    t = {"title": "T", "scale": "small", "rows": [_row(False, 0.5, None), _row(True, 0.6, None)]}
    text = lambda rep: " ".join(str(getattr(b, "text", "")) for b in sec.blocks(rep))  # noqa: E731
    assert "Not run at small scale by reproduce: table5, table6" in text(
        {"bench": {"table1": t}, "bench_not_run": ["table5", "table6"]})
    assert "Not run" not in text({"bench": {"table1": t}})


def test_small_reproduction_names_what_it_leaves_out():
    from sdlscape.pipeline.reproduce import SCALES

    left = [t for t in SCALES["paper"].bench_tables if t not in SCALES["small"].bench_tables]
    assert left == ["table5", "table6"] and "table1" in SCALES["small"].bench_tables


def test_heading_states_the_rows_training_time_not_the_assembly_time():
    t = {"title": "T", "scale": "small", "seconds": 0.02, "compute_seconds": 647.0,
         "rows": [_row(False, 0.5, None), _row(True, 0.6, None)]}
    def heading(tab):
        return next(str(b.text) for b in sec.blocks({"bench": {"table1": tab}}) if str(b.text).startswith("table1:"))

    assert heading(t).endswith("(tau = 0.95, the paper's; small scale, 647 s of training)")
    t.pop("compute_seconds")
    assert heading(t).endswith("(tau = 0.95, the paper's; small scale, 0 s)")


def test_l0_column_shows_the_seed_spread():
    r = {**_row(False, 0.5, 0.1, method="relu"), "l0": 0.512, "l0_sd": 0.034, "target_l0": 0.5}
    t = {"title": "T", "scale": "small", "rows": [r, {**r, "anchoring": True}]}
    table = next(b for b in sec.blocks({"bench": {"table1": t}}) if hasattr(b, "rows"))
    assert table.rows[0][-2:] == ["0.51 +- 0.03", "0.5"]
    t["rows"] = [{**r, "l0_sd": None}, {**r, "anchoring": True}]      # one seed: no spread printed
    table = next(b for b in sec.blocks({"bench": {"table1": t}}) if hasattr(b, "rows"))
    assert table.rows[0][-2] == "0.51"


def test_heading_states_tau_once():
    """The table titles carry no tau of their own: the heading states the rows' tau once (it printed two)."""
    from sdlscape.bench.tables import TABLE_TITLES

    assert not any("tau" in title for title in TABLE_TITLES.values())
    t = {"title": TABLE_TITLES["table1"], "scale": "small", "rows": [_row(False, 0.5, None), _row(True, 0.6, None)]}
    head = next(str(b.text) for b in sec.blocks({"bench": {"table1": t}}) if str(b.text).startswith("table1:"))
    assert head.count("tau") == 1, head
