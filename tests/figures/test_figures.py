"""Figures: each module turns its data into a PNG and a PDF that are not blank."""
import importlib

import numpy as np
import pytest


def _not_blank(png):
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    return img.std() > 0.01


LANDSCAPE = {"instance": "toy", "summary": {"global_value": 0.0},
             "pieces": [{"pattern": [[0], [1]], "class": "global", "loss": 0.0, "multiplicity": 2},
                        {"pattern": [[0, 1], []], "class": "spurious", "loss": 1.0, "multiplicity": 2},
                        {"pattern": [[], []], "class": "leaves_region", "loss": None, "multiplicity": 1}]}

CASES = [   # (module of sdlscape.figures, its data)
    ("landscape_map", LANDSCAPE),
    ("crosscheck_outcomes", {"ex3.5": {"starts": 100, "outcomes": {"global": 0.7, "spurious": 0.3}},
                             "other": {"starts": 100, "outcomes": {"global": 0.5, "leaves_region": 0.5}}}),
    ("zero_loss", {"W_p": [[1, 0, -1, 0], [0, 1, 0, -1]], "W_E": np.eye(4, 2).tolist(),
                   "W_D": np.eye(2, 4).tolist(), "loss": 1e-12}),
    ("bench3d", {"W_p": (np.eye(3)).tolist(), "samples": np.random.default_rng(0).random((50, 3)).tolist(),
                 "max_interference": 0.0, "p_active": 0.2}),
    ("recovery_curve", {"taus": [0.5, 0.9], "curves": {"topk": [1.0, 0.8], "topk+FA": [1.0, 0.9]}}),
    ("resampling", {"curves": {"plain": {"step": [0, 1, 2], "loss": [1.0, 0.5, 0.5]},
                               "resampled": {"step": [0, 1, 2], "loss": [1.0, 0.5, 0.1]}}, "resample_steps": [1]}),
    ("thm31_bound", {"series": {"relu": {"p_active": [0.01, 0.1], "gap": [1e-4, 1e-2], "ci95_half": [1e-6, 1e-4],
                                         "bound_lo": [1e-3, 1e-1], "bound_hi": [2e-3, 2e-1]}}}),
]


@pytest.mark.parametrize("figure, data", CASES, ids=lambda c: c if isinstance(c, str) else "data")
def test_figure_writes_png_and_pdf(tmp_path, figure, data):
    paths = importlib.import_module(f"sdlscape.figures.{figure}").draw(data, tmp_path)
    assert sorted(p.suffix for p in paths) == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert _not_blank([p for p in paths if p.suffix == ".png"][0])
