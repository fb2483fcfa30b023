"""The report renders the same blocks as Markdown and as self-contained HTML."""
import numpy as np

from sdlscape.figures import resampling
from sdlscape.pipeline.document import (
    Document,
    Figure,
    Heading,
    Paragraph,
    Table,
    to_html,
    to_markdown,
)


def test_markdown_and_html_agree(tmp_path):
    resampling.draw({"curves": {"a": {"step": [0, 1], "loss": [1.0, 0.5]}}}, tmp_path, name="f")
    doc = Document("T", [Heading("Verdicts"), Paragraph("text"), Table(["claim", "status"], [["thm3.6", "fails"],
                                                                                              ["x", 0.123456]]),
                         Figure("f.png", "caption one")])
    md = to_markdown(doc)
    assert "| thm3.6 | fails |" in md and "0.1235" in md and "![caption one](f.png)" in md
    page = to_html(doc, tmp_path)
    assert "<td class='n'>fails</td>" in page and "data:image/png;base64," in page and "caption one" in page


def test_fig4_data_is_zero_loss_without_recovery():
    from sdlscape.pipeline.sections.theory import fig4_data

    d = fig4_data()
    assert d["loss"] < 1e-20
    assert d["best_cosine"] < 0.9  # no encoder row or decoder column within 0.9 of any feature


def test_thm31_data_shows_jumprelu_gap_is_first_order():
    from sdlscape.pipeline.sections.theory import thm31_data

    d = thm31_data(mc=500)
    relu, jump = d["series"]["relu"], d["series"]["jumprelu(theta=0.5)"]
    # relu: the gap shrinks like p^2 (homogeneous); jumprelu: like p (the one-feature term differs from L~)
    r = np.log(relu["gap"][0] / relu["gap"][-1]) / np.log(relu["p_active"][0] / relu["p_active"][-1])
    j = np.log(jump["gap"][-2] / jump["gap"][-1]) / np.log(jump["p_active"][-2] / jump["p_active"][-1])
    assert r > 1.8 and r < 2.2 and j > 0.8 and j < 1.2


def test_html_contents_link_to_anchors_that_exist_and_tables_scroll(tmp_path):
    import re

    from sdlscape.pipeline.document import anchors

    doc = Document("T", [Heading("Findings"), Paragraph("x"), Heading("The paper's statements", 3),
                         Heading("Pieces of example-3.5", 3), Table([str(i) for i in range(16)], [list(range(16))]),
                         Heading("Findings")])
    page = to_html(doc, tmp_path)
    links = re.findall(r"href='#([^']+)'", page)
    ids = re.findall(r" id='([^']+)'", page)
    assert len(ids) == len(set(ids)) == 4                      # a repeated heading gets its own anchor
    assert set(links) == set(ids) and "pieces-of-example-35" in ids and "findings-1" in ids
    assert "<nav class='toc'>" in page and page.index("<nav") < page.index("<h2")
    assert "<div class='scroll'><table>" in page and ".scroll{overflow-x:auto" in page
    md = to_markdown(doc)
    assert "[Findings](#findings)" in md and set(anchors(doc).values()) == set(ids)


def test_landscape_tables_print_round_off_as_zero():
    from sdlscape.pipeline.sections import landscape

    land = {"summary": {"activation": {"name": "relu"}, "global_value": 1.31e-32, "global_lower_bound": 0.0,
                        "global_certified": True, "pieces": 1, "tolerance": 1e-6},
            "pieces": [{"pattern": [[0], [1]], "class": "global", "loss": 1.31e-32, "lower_bound": 0.0,
                        "gap": 1.31e-32, "certified": True, "acs_loss": 0.5, "acs_excess": None}]}
    md = to_markdown(Document("t", landscape.blocks({"landscapes": {"toy": land}})))
    assert "1.31e-32" not in md and "Global value 0 (< 1e-12)" in md
    assert "| [[0],[1]] | – | global | 0 (< 1e-12) | 0 | 0 (< 1e-12) | yes |" in md and "| 0.5 |" in md


def test_figures_report_rerenders_a_report_from_its_json(tmp_path):
    import json
    import subprocess
    import sys

    VERIFY = {"results": [{"claim": "thm3.2", "activation": "relu", "status": "holds", "instances_tried": 2,
                           "seconds": 0.1, "reading": "def3.1", "counterexample": None}]}
    (tmp_path / "report.json").write_text(json.dumps({"verify": VERIFY, "stages": {"verify": {"seconds": 1.0}}}))
    r = subprocess.run([sys.executable, "-m", "sdlscape.cli", "figures", "--from", str(tmp_path), "--report"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "report.md").read_text()
    assert md.index("## Findings") < md.index("## Verdicts") < md.index("## Compute time per stage")
    assert "<nav class='toc'>" in (tmp_path / "report.html").read_text()
    bad = subprocess.run([sys.executable, "-m", "sdlscape.cli", "figures", "--report", "--from", str(tmp_path / "no")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "report.json" in bad.stderr and not (tmp_path / "no").exists()
