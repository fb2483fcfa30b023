"""Numbers as printed: significant digits, and round-off of an exact zero as zero below the tolerance."""
from sdlscape.formatting import value
from sdlscape.numerics import ZERO_LOSS


def test_round_off_prints_as_zero_below_tolerance():
    assert value(1.31e-32) == "0 (< 1e-12)"
    assert value(-3e-20) == "0 (< 1e-12)"
    assert value(ZERO_LOSS) == "0 (< 1e-12)"
    assert value(0.0) == "0"


def test_values_above_tolerance_keep_significant_digits():
    assert value(2e-12) == "2e-12"
    assert value(0.0071592321) == "0.007159"
    assert value(1.57931429e-3, digits=3) == "0.00158"
    assert value(None) == "–" and value(float("nan")) == "nan"


def test_crosscheck_summary_does_not_cut_a_tiny_loss_into_a_large_one():
    from sdlscape.verify.crosscheck import summary_lines

    res = {"name": "toy", "activation": {"name": "relu"}, "starts": 2, "global_value": 1.579e-31,
           "training": {"optimizer": "adam", "steps": 1, "lr": 0.01, "seconds": 0.1, "device": "cpu"},
           "outcomes": {"global": 0.5, "spurious": 0.5, "leaves_region": 0.0, "not_converged": 0.0},
           "outcome_counts": {"global": 1, "spurious": 1, "leaves_region": 0, "not_converged": 0},
           "by_init": {}, "agreements": 2, "disagreements": 0, "unmatched": 0, "flagged": [],
           "pieces": [{"key": "[[0],[1]]", "landscape_class": "global", "landscape_loss": 1.579e-31,
                       "counts": {"global": 1}},
                      {"key": "[[],[0]]", "landscape_class": "spurious", "landscape_loss": 1.0163946412,
                       "counts": {"spurious": 1}}]}
    text = "\n".join(summary_lines(res))
    assert "1.579" not in text and "0 (< 1e-12)" in text and "1.016 " in text
