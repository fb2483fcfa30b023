"""The anchoring verdict section and figure read an anchoring result (bench/anchoring.py) and say what it shows."""
import re

from sdlscape.bench.anchoring import paired
from sdlscape.figures import anchoring as fig
from sdlscape.pipeline.document import Document, Paragraph, Table, to_html, to_markdown
from sdlscape.pipeline.sections import anchoring as sec
from sdlscape.pipeline.sections.findings import anchoring_sentence

PLAIN = [0.56, 0.56, 0.65]


def _row(variant, n, vals, plain_vals=None, method="topk", **extra):
    row = {"method": method, "variant": variant, "scale": "medium" if n == 250 else f"n{n}", "n": n,
           "n_seeds": len(vals), "M_GT_decoder_95": sum(vals) / len(vals), "M_GT_decoder_95_sd": 0.02,
           "M_GT_decoder_90": 0.96, "fvu": 0.01, "dead_fraction": 0.6, "paper_M_GT": None, **extra}
    if plain_vals is not None:
        row["vs_plain"] = {"M_GT_decoder_95": paired(plain_vals[:len(vals)], vals)}
    return row


def _result(cosine=(0.75,), normmatch=(0.70,)):
    """Medium TopK as committed: eq. 26 hurts (3 seeds); cosine and normmatch with as many seeds as given."""
    return {"noise_test": "paired t", "variants": {"plain": "none", "eq26": "both"}, "rows": [
        _row("plain", 250, PLAIN, paper_M_GT=0.849),
        _row("eq26", 250, [0.29, 0.22, 0.31], PLAIN, anchored_rate=0.394, anchored_feature_rate=0.0104,
             anchored_norm=0.995, trained_norm=0.654, anchored_precision=0.025, paper_M_GT=0.8763),
        _row("cosine", 250, list(cosine), PLAIN, anchored_rate=0.097, anchored_feature_rate=0.0104,
             anchored_norm=0.089, trained_norm=0.64),
        _row("normmatch", 250, list(normmatch), PLAIN),
        _row("plain", 100, [0.64]), _row("eq26", 100, [0.62], [0.64]),
        _row("plain", 50, [1.0, 1.0, 1.0], method="relu"),
        _row("eq26", 50, [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], method="relu")]}


def _summary(res):
    return sec.summary(res if isinstance(res, list) else [res])


def test_hurts_input_gives_hurts_with_its_p_and_the_paper_beside():
    res = _result()
    p = res["rows"][1]["vs_plain"]["M_GT_decoder_95"]["p"]
    text = _summary(res)
    assert text.startswith("Eq. 26 hurts TopK at n = 250 (medium)")
    assert f"p = {p:.2g}" in text and "all 3 seeds lower" in text and "-31.67 points" in text
    assert "paper at n = 1000, encoder rows, one run: 84.90% -> 87.63%" in text
    assert "no effect by the noise test) for ReLU at n = 50" in text        # identical seeds: no effect
    assert "Too few seeds to test: TopK at n = 100" in text                  # one seed: untested
    # the mechanism, from the eq. 26 row's numbers
    assert "norm 0.99 while the trained rows sit near 0.65" in text and "win TopK slots on 39.40%" in text
    assert "against 1.04% for their features" in text


def test_a_one_seed_variant_is_never_called_helps_even_if_its_stored_verdict_says_so():
    res = _result(cosine=(0.95,))
    res["rows"][2]["vs_plain"]["M_GT_decoder_95"]["verdict"] = "helps"    # a corrupt one-seed verdict
    text = _summary(res)
    assert "helps" not in text
    assert "No variant passes the noise test" in text and "the best candidate is cosine" in text
    assert "1 seed, untested, needs more seeds" in text
    row = next(r for r in sec.verdict_table(sec._groups([res])).rows if r[1] == "n = 250 (medium)")
    assert row[7] == "hurts" and row[8].startswith("cosine") and row[9] == "untested (1 seed)"


def test_variant_going_from_one_to_three_seeds_gets_the_tests_verdict():
    one = _result()
    three_up = _result(cosine=(0.75, 0.74, 0.80))          # every seed up, p < 0.05
    t = three_up["rows"][2]["vs_plain"]["M_GT_decoder_95"]
    assert t["verdict"] == "helps" and t["p"] < 0.05
    text = _summary([one, three_up])
    assert "Variants that help by the noise test: cosine for TopK at n = 250 (medium)" in text
    assert f"p = {t['p']:.2g}, all 3 seeds higher" in text and "No variant passes" not in text
    # the three-seed row wins over the one-seed row whatever the file order
    assert _summary([three_up, one]) == text
    mixed = _result(cosine=(0.75, 0.50, 0.70), normmatch=(0.60, 0.50, 0.66))   # a seed down: no effect
    text = _summary(mixed)
    assert "helps" not in text and "best candidate is cosine" in text
    tail = text.split("best candidate is cosine")[1]
    assert "p = " in tail and "2 up / 1 down of 3 seeds" in tail and "untested" not in tail
    down = _result(normmatch=(0.40, 0.41, 0.45), cosine=(0.30, 0.31, 0.40))
    rows = {r[1]: r for r in sec.verdict_table(sec._groups([down])).rows}
    assert rows["n = 250 (medium)"][9].startswith("hurts (p = ")


def test_section_blocks_verdict_table_mechanism_and_collapsed_full_table():
    blocks = sec.blocks({"anchoring": _result()})
    tables = [b for b in blocks if isinstance(b, Table)]
    verdict, mech, full = tables
    assert [r[1] for r in verdict.rows] == ["n = 100", "n = 250 (medium)", "n = 50"]   # TopK first, then ReLU
    assert [r[7] for r in verdict.rows] == ["untested", "hurts", "no effect"]
    assert {r[2] for r in mech.rows} == {"eq26", "cosine"}                      # rows with firing rates only
    assert full.collapsed and not verdict.collapsed and len(full.rows) == 8
    md = to_markdown(Document("t", blocks))
    assert md.index("| method | scale | plain |") < md.index("<details>") < md.index("| method | n | variant | seeds |")
    html = to_html(Document("t", blocks), base=None)
    assert re.search(r"<details><summary>Every variant[^<]*</summary><div class='scroll'><table>", html)
    assert isinstance(blocks[1], Paragraph) and sec.blocks({}) == []


def test_findings_sentence_carries_the_headline():
    text = anchoring_sentence([], {"anchoring": {"anchoring_medium_topk": _result()}})
    assert "results/bench/anchoring_medium_topk.json" in text and "Eq. 26 hurts TopK at n = 250" in text
    assert "No variant passes the noise test" in text
    assert sec.headline([{}]) == ""


def test_figure_has_one_line_per_variant_over_n(tmp_path):
    pts = fig.points([_result()])
    assert [p[0] for p in pts["topk"]["eq26"]] == [100, 250]
    assert set(pts["topk"]) == {"plain", "eq26", "cosine", "normmatch"}
    paths = fig.draw(_result(), tmp_path)
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)
