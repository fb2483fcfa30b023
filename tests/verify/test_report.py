"""The report renders the same blocks as Markdown and as self-contained HTML."""
from sdlscape.figures import resampling
from sdlscape.verify.report import Document, Figure, Heading, Paragraph, Table, to_html, to_markdown


def test_markdown_and_html_agree(tmp_path):
    resampling.draw({"curves": {"a": {"step": [0, 1], "loss": [1.0, 0.5]}}}, tmp_path, name="f")
    doc = Document("T", [Heading("Verdicts"), Paragraph("text"), Table(["claim", "status"], [["thm3.6", "fails"],
                                                                                              ["x", 0.123456]]),
                         Figure("f.png", "caption one")])
    md = to_markdown(doc)
    assert "| thm3.6 | fails |" in md and "0.1235" in md and "![caption one](f.png)" in md
    page = to_html(doc, tmp_path)
    assert "<td>fails</td>" in page and "data:image/png;base64," in page and "caption one" in page
