"""The Findings section follows the data: a changed result changes its sentence, and no verdict is written in."""
import copy
import sys
import types

from sdlscape.pipeline.document import Heading, Paragraph, Table, to_markdown
from sdlscape.pipeline.report import build_document, section_order
from sdlscape.pipeline.sections import claims, disagreements, findings


def _r(claim, act, status, **kw):
    return {"claim": claim, "activation": act, "status": status, "instances_tried": 3, "seconds": 0.1,
            "reading": "def3.1", "counterexample": {"why": f"why-{claim}-{act}"} if status == "fails" else None,
            **kw}


VERIFY = {"results": [
    _r("thm3.6", "relu", "fails", severity="substantive", rests_on=["unequal weights M_d"]),
    _r("thm3.6", "topk", "holds"),
    _r("thm3.6-corrected", "relu", "holds"), _r("thm3.6-corrected", "topk", "holds"),
    _r("thm3.3", "jumprelu", "fails", severity="literal", natural={"status": "holds"}, rests_on=[]),
    _r("thm3.3", "relu", "not_applicable"),
]}


def _row(method, anchoring, m_gt, paper, dec, tau=0.95, sd=0.0, **settings):
    return {"method": method, "label": method.upper(), "anchoring": anchoring, "M_GT": m_gt, "M_GT_sd": sd,
            "paper_M_GT": paper, "M_GT_decoder": dec, "M_GT_decoder_sd": sd, "M_IP": 0.5,
            "settings": {"tau": tau, **settings}}


BENCH = {"table1": {"table": "table1", "scale": "small", "rows": [
    _row("topk", False, 0.0, 0.849, 0.6), _row("topk", True, 0.0, 0.8763, 0.61)]}}


def _report(**kw):
    return {"verify": copy.deepcopy(VERIFY), "bench": copy.deepcopy(BENCH), **kw}


def _text(blocks):
    return "\n".join(b.text for b in blocks if isinstance(b, Paragraph))


def test_a_changed_verdict_changes_the_sentence():
    report = _report()
    before = findings.statement_sentences(report)
    thm36 = next(s for s in before if s.startswith("Thm 3.6"))
    assert "fails for relu" in thm36 and "holds for topk" in thm36
    assert "\u201cfor every activation pattern P" in thm36          # the statement is quoted where judged
    assert "rests on unequal weights M_d (relu)" in thm36
    assert "Corrected statement (thm3.6-corrected): on a partition piece" in thm36
    report["verify"]["results"][0]["status"] = "holds"
    after = next(s for s in findings.statement_sentences(report) if s.startswith("Thm 3.6"))
    assert "fails" not in after and "holds for relu and topk" in after


def test_literal_failures_and_not_applicable_are_said_as_such():
    thm33 = next(s for s in findings.statement_sentences(_report()) if s.startswith("Thm 3.3"))
    assert "fails only as literally written for jumprelu (natural reading: holds)" in thm33
    assert "does not apply to relu" in thm33


def test_old_results_without_rests_on_fall_back_to_the_counterexample():
    report = _report()
    for r in report["verify"]["results"]:
        r.pop("rests_on", None)
    thm36 = next(s for s in findings.statement_sentences(report) if s.startswith("Thm 3.6"))
    assert "Counterexample (relu): why-thm3.6-relu." in thm36
    table = next(b for b in build_document(report, {}).blocks if isinstance(b, Table) and "rests on" in b.header)
    assert all(row[table.header.index("rests on")] == "–" for row in table.rows)


def test_the_verdict_table_shows_rests_on():
    table = next(b for b in build_document(_report(), {}).blocks if isinstance(b, Table) and "rests on" in b.header)
    col = table.header.index("rests on")
    assert ["thm3.6", "relu"] == table.rows[0][:2] and table.rows[0][col] == "unequal weights M_d"


def test_bench_verdict_follows_the_numbers():
    report = _report()
    (level,) = [r for r in claims.comparisons(report) if r["key"][1] == "level"]
    assert not level["agrees"] and "ours lower by 84.9 points" in level["verdict"]
    assert any("84.90%" in p for p in disagreements.items(report, claims.comparisons(report)))
    report["bench"]["table1"]["rows"][0]["M_GT"] = 0.83
    (level,) = [r for r in claims.comparisons(report) if r["key"][1] == "level"]
    assert level["agrees"] and level["verdict"].startswith("agrees")
    assert not any("TOPK 83.00%" in p for p in disagreements.items(report, claims.comparisons(report)))


def test_anchoring_verdict_from_effects_and_supplementary_medium_table():
    medium = {"table": "table1", "scale": "medium", "rows": [
        _row("topk", False, 0.0, 0.849, 0.59, sd=0.05), _row("topk", True, 0.0, 0.8763, 0.276, sd=0.05)]}
    rows = claims.comparisons(_report(), {"bench": {"table1_medium_topk": medium}})
    med = next(r for r in rows if r["key"] == ("table1", "anchoring", "medium"))
    assert med["verdict"] == "opposite: anchoring lowers M_GT" and "59.00% -> 27.60%" in med["ours_decoder"]
    medium["rows"][1]["M_GT_decoder"] = 0.80
    med = next(r for r in claims.comparisons(_report(), {"bench": {"table1_medium_topk": medium}})
               if r["key"] == ("table1", "anchoring", "medium"))
    assert med["agrees"] and med["verdict"] == "agrees: raised beyond noise in 1 pair (paper: 1)"


def test_resampling_claim_and_its_explanation_follow_the_run():
    def cc(with_mse, dead):
        runs = {"without_resampling": {"final_mse_full_data": 0.48, "history": {"loss": [1.0, 0.5]}},
                "with_resampling": {"final_mse_full_data": with_mse, "history": {"loss": [1.0, 0.5]},
                                    "fraction_resampled_dead_at_end": dead, "n_latents_ever_resampled": 10}}
        return {"crosscheck": {"x": {"bench_resampling": {"runs": runs}}}}

    row = claims.resampling_row(cc(0.49, 0.9))
    assert row["verdict"] == "no gain"
    text = " ".join(disagreements.items({}, [row]))
    assert "90.00% of the latents it resampled are dead again" in text and "lie on each other" in text
    assert claims.resampling_row(cc(0.30, 0.1))["agrees"]


def test_findings_come_first_and_stage_times_last():
    report = _report(stages={"verify": {"seconds": 1.0}})
    heads = [b.text for b in build_document(report, {}).blocks if isinstance(b, Heading) and b.level == 2]
    assert heads[0] == "Findings" and heads[-1] == "Compute time per stage"
    assert "*compute time per stage*" not in to_markdown(build_document(report, {}))[:400]


def test_an_anchoring_section_module_is_placed_in_the_report(monkeypatch):
    if "sdlscape.pipeline.sections.anchoring" not in sys.modules:
        assert "anchoring" not in [n for n, _ in section_order({}, {})]
    mod = types.ModuleType("sdlscape.pipeline.sections.anchoring")
    mod.blocks = lambda report: [Heading("Anchoring"), Paragraph(f"anchoring results {report['anchoring']}")]
    monkeypatch.setitem(sys.modules, "sdlscape.pipeline.sections.anchoring", mod)
    names = [n for n, _ in section_order({}, {})]
    assert names.index("bench") < names.index("anchoring") < names.index("stages")
    assert "anchoring results" not in to_markdown(build_document(_report(), {}))     # no anchoring data: no section
    supplementary = {"anchoring": {"anchoring_small": {"rows": [1]}}}                # the committed results
    assert "anchoring results [{'rows': [1]}]" in to_markdown(build_document(_report(), supplementary))
    own = to_markdown(build_document(_report(anchoring={"rows": [2]}), supplementary))  # the run's own first
    assert "anchoring results [{'rows': [2]}]" in own
    text = _text(findings.blocks(_report(), {"anchoring": {"anchoring_x": {}}}))
    assert ("Feature anchoring (Sec. 4), does it raise M_GT? table1: agrees: raised beyond noise in 1 pair "
            "(paper: 1).") in text
    assert "results/bench/anchoring_x.json" in text
    assert "results/bench/anchoring" not in _text(findings.blocks(_report(), {}))


def test_an_explanation_is_given_in_full_once():
    enc = {"paper": {"tau": 0.95}, "oracle": {"curves": {"enc_M_GT@0.95": [1.0, 0.02], "enc_M_IP": [1.0, 0.9],
                                                         "reader_M_IP": [0.6, 0.7], "fvu": [0.02, 0.01]}},
           "hypotheses": {"decoder_measured": {"decoder_M_GT": 0.9, "encoder_M_GT": 0.0}}}
    report = _report(encoder=enc)
    report["bench"]["table7"] = {"table": "table7", "rows": [
        _row("topk", False, 0.0, 1.0, 1.0, tau=0.9, k_paper=32), _row("topk", False, 0.0, 0.867, 1.0, tau=0.9,
                                                                          k_paper=128)]}
    paras = disagreements.items(report, claims.comparisons(report))
    assert sum("encoder M_GT at tau = 0.95: 100.00% -> 2.00%" in p for p in paras) == 1
    assert any("The same experiment explains it as for table1 (above)." in p for p in paras)


def test_anchoring_agrees_only_if_most_of_the_papers_raises_are_seen():
    rows = []
    for i, (plain, anchored) in enumerate([(0.5, 0.9), (0.5, 0.5), (0.5, 0.5), (0.5, 0.5)]):
        rows += [_row(f"m{i}", False, 0.0, 0.80, plain, sd=0.01), _row(f"m{i}", True, 0.0, 0.85, anchored, sd=0.01)]
    t = {"table": "table1", "rows": rows}
    row = claims.anchoring_row("table1", t)
    assert not row["agrees"] and row["verdict"].startswith("mostly not reproduced: raised beyond noise in 1 pair")
    t["rows"][3]["M_GT_decoder"] = 0.9
    assert claims.anchoring_row("table1", t)["agrees"]
