"""report_diff: which numbers changed between two report.json files."""
import json

from sdlscape.pipeline.diff import main, report_diff


def test_changed_added_removed_and_reordering():
    old = {"verify": [{"claim": "thm3.2", "activation": "relu", "status": "holds"},
                      {"claim": "thm3.6", "activation": "relu", "status": "fails"}],
           "x": 1.0, "gone": 3, "provenance": {"wall": 5}}
    new = {"verify": [{"claim": "thm3.6", "activation": "relu", "status": "fails"},
                      {"claim": "thm3.2", "activation": "relu", "status": "fails"}],
           "x": 1.0 + 1e-9, "added": 2, "provenance": {"wall": 9}}
    rows = {p: (a, b) for p, a, b in report_diff(old, new)}
    assert rows == {"verify[thm3.2/relu/def3.1].status": ("holds", "fails"),
                    "gone": (3, ...), "added": (..., 2)}


def test_tolerance_and_bool_vs_int():
    assert report_diff({"a": 1.0}, {"a": 1.1}, rtol=0.2) == []
    assert report_diff({"a": 1.0}, {"a": 1.1}, rtol=0.01) == [("a", 1.0, 1.1)]
    assert report_diff({"a": True}, {"a": 1}) == [("a", True, 1)]


def test_cli(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"n": 1}))
    b.write_text(json.dumps({"n": 2}))
    assert main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "n: 1 -> 2" in out and "1 leaves differ" in out
    assert main([str(a), str(tmp_path / "missing.json")]) == 2
