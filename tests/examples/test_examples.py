"""Each example script (one per theorem) runs and prints the verdict its docstring announces."""
import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECT = {
    "thm3_1": ["cofiring-pair", "-> violated", "thm3.1/relu: fails (substantive)", "thm3.1-corrected/relu: holds"],
    "thm3_2": ["thm3.2/topk: fails", "thm3.2/topk/selection: holds"],
    "thm3_3": ["thm3.3/relu: holds", "thm3.3/topk: fails (literal)", "'violations': 0, 'status': 'holds'"],
    "thm3_4": ["thm3.4/relu: holds", "thm3.4/topk: fails (substantive)", "by decoder columns: 0"],
    "ex3_5": ["exact L~ = 1", "ex3.5/topk_relu: holds"],
    "thm3_6": ["thm3.6/relu: fails", "disagreements with the judges: 0", "thm3.6-corrected/relu: holds"],
    "thm3_8": ["thm3.8/relu: fails", "thm3.8/jumprelu: holds", "thm3.8-corrected/relu: holds"],
}


def test_one_script_per_theorem():
    scripts = {p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")}
    assert scripts == set(EXPECT)


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_example_runs(name, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    out = capsys.readouterr().out
    for text in EXPECT[name]:
        assert text in out, (name, text)
