"""The anchoring verdict section and figure read an anchoring result (bench/anchoring.py) and say what it shows."""
from sdlscape.bench.anchoring import paired
from sdlscape.figures import anchoring as fig
from sdlscape.pipeline.document import Paragraph, Table
from sdlscape.pipeline.sections import anchoring as sec


def _row(variant, n, vals, plain_vals=None, **extra):
    row = {"method": "topk", "variant": variant, "scale": "medium" if n == 250 else f"n{n}", "n": n,
           "n_seeds": len(vals), "M_GT_decoder_95": sum(vals) / len(vals), "M_GT_decoder_95_sd": 0.02,
           "M_GT_decoder_90": 0.96, "fvu": 0.01, "dead_fraction": 0.6, "paper_M_GT": None, **extra}
    if plain_vals is not None:
        row["vs_plain"] = {"M_GT_decoder_95": paired(plain_vals, vals)}
    return row


def _result():
    plain = [0.56, 0.56, 0.65]
    return {"noise_test": "paired t", "variants": {"plain": "none", "eq26": "both"}, "rows": [
        _row("plain", 250, plain),
        _row("eq26", 250, [0.29, 0.22, 0.31], plain, anchored_rate=0.4, anchored_feature_rate=0.01,
             anchored_norm=1.0, trained_norm=0.6),
        _row("normmatch", 250, [0.70, 0.72, 0.80], plain),
        _row("plain", 100, [0.64]), _row("eq26", 100, [0.65], [0.64])]}


def test_section_states_the_verdicts_and_the_mechanism():
    blocks = sec.blocks({"anchoring": _result()})
    text = next(b.text for b in blocks if isinstance(b, Paragraph))
    assert "with eq. 26, hurts" in text and "Variants that help (paired test): normmatch" in text
    assert "fire on 40.00% of samples against 1.00%" in text
    assert "untested" in text                      # the one-seed n = 100 point
    table = next(b for b in blocks if isinstance(b, Table))
    verdicts = {(r[1], r[2]): r[7] for r in table.rows}
    assert verdicts[("medium (n = 250)", "eq26")] == "hurts"
    assert verdicts[("medium (n = 250)", "normmatch")] == "helps"
    assert sec.blocks({}) == []


def test_figure_has_one_line_per_variant_over_n(tmp_path):
    pts = fig.points([_result()])
    assert [p[0] for p in pts["topk"]["eq26"]] == [100, 250]
    assert set(pts["topk"]) == {"plain", "eq26", "normmatch"}
    paths = fig.draw(_result(), tmp_path)
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)
