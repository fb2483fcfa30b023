"""Figure layout (issue 15): axis labels, legends that cover no data, labels that do not crowd, and the same named
quantity in a figure as in the report's table. Drawing computes nothing: what is drawn is the data as given."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from sdlscape.figures import bench3d, recovery_curve, top_activations
from sdlscape.pipeline.document import Table
from sdlscape.pipeline.sections import real as real_section


def _bboxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _bench_data(n=6, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(3, n))
    W /= np.linalg.norm(W, axis=0)
    X = rng.exponential(size=(80, n)) * (rng.random((80, n)) < 0.2)
    return {"W_p": W.tolist(), "samples": (X @ W.T).tolist(), "max_interference": 0.5, "p_active": 0.2}


def test_bench3d_has_axis_labels_and_a_legend_outside_the_axes():
    data = _bench_data()
    fig = bench3d.build(data)
    try:
        (ax,) = fig.axes
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_zlabel()
        assert len({ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()}) == 3
        assert len(ax.texts) == 0                    # no labels at the arrow tips, where they crowd
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        leg = ax.get_legend()
        names = [t.get_text() for t in leg.get_texts()]
        assert len(names) == 1 + 6 and all(f"feature {j}" in " ".join(names) for j in range(1, 7))
        assert leg.get_window_extent(renderer).x0 >= ax.bbox.x1 - 1   # beside the panel, not over it
        boxes = [t.get_window_extent(renderer) for t in leg.get_texts()]
        assert not any(_bboxes_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    finally:
        plt.close(fig)


def test_bench3d_draws_the_columns_as_given():
    data = _bench_data(n=4, seed=1)
    fig = bench3d.build(data)
    try:
        (ax,) = fig.axes
        W = np.asarray(data["W_p"])
        ends = [np.array([line.get_data_3d()[k][1] for k in range(3)]) for line in ax.lines]
        assert len(ends) == 4
        L = bench3d.arrow_length(np.asarray(data["samples"]))
        assert L > 1.0                                   # the samples reach beyond the unit sphere here
        for j, end in enumerate(ends):
            np.testing.assert_allclose(end, L * W[:, j])   # each feature's direction, at the stated length
    finally:
        plt.close(fig)


@pytest.mark.parametrize("n_methods", [2, 5])
def test_recovery_curve_legend_covers_no_curve(n_methods):
    taus = np.linspace(0.5, 0.99, 12).tolist()
    curves = {}
    for m in range(n_methods):
        curves[f"method{m}"] = np.linspace(1.0, 0.1 * m, 12).tolist()
        curves[f"method{m}+FA"] = np.linspace(1.0, 0.2 + 0.1 * m, 12).tolist()
    fig = recovery_curve.build({"taus": taus, "curves": curves})
    try:
        (ax,) = fig.axes
        fig.canvas.draw()
        legend_box = ax.get_legend().get_window_extent(fig.canvas.get_renderer())
        assert not _bboxes_overlap(legend_box, ax.bbox)
        assert len(ax.get_legend().get_texts()) == 2 * n_methods
        for line, ys in zip(ax.lines, curves.values()):
            np.testing.assert_allclose(line.get_ydata(), 100 * np.asarray(ys))
    finally:
        plt.close(fig)


def _entry(precision, purity, recall=0.95):
    return {"class": 2, "latent": 40, "cos_encoder": 0.5, "cos_decoder": 0.4, "purity": purity,
            "precision": precision, "recall": recall, "top": [], "acts": []}


def test_top_activations_row_shows_the_tables_quantity():
    top = {"class_names": [str(c) for c in range(10)]}
    label = top_activations._row_label(top, _entry(0.33, 1.0), "plain")
    assert "precision 0.33" in label and "recall 0.95" in label
    assert "purity" not in label and "1.00" not in label
    dead = top_activations._row_label(top, _entry(None, None, 0.0), "anchored")
    assert "dead" in dead and "precision" not in dead
    assert "not recorded" in top_activations._row_label(top, {k: v for k, v in _entry(0.5, 0.5).items()
                                                              if k != "precision"}, "plain")


def test_the_report_table_names_the_same_quantities():
    report = {"real": {"table": "real-digits", "rows": [
        {"method": "topk", "anchoring": "no", "M_GT": 0.5, "M_IP": 0.2, "anchor_precision": 0.33,
         "anchor_recall": 0.95}]}}
    (table,) = [b for b in real_section.blocks(report) if isinstance(b, Table)]
    heads = " ".join(table.header)
    assert "precision" in heads and "recall" in heads and "purity" not in heads


def test_landscape_legend_prints_round_off_as_zero():
    from sdlscape.figures import landscape_map

    land = {"instance": "toy", "summary": {"global_value": 1.31e-32},
            "pieces": [{"pattern": [[0], [1]], "class": "global", "loss": 1.31e-32, "multiplicity": 1},
                       {"pattern": [[], []], "class": "spurious", "loss": 1.0, "multiplicity": 1}]}
    fig, _, _ = landscape_map.build(land)
    texts = " ".join(t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts())
    plt.close(fig)
    assert "global value 0 (< 1e-12)" in texts and "1.31e-32" not in texts


def test_thm31_panels_mark_the_levels_above_the_bound():
    from sdlscape.figures import thm31_bound

    s = {"p_active": [0.001, 0.01, 0.1], "gap": [1e-5, 1e-4, 1e-3], "ci95_half": [0, 0, 0],
         "bound_lo": [1e-6, 1e-4, 1e-2], "bound_hi": [2e-6, 2e-4, 2e-2],
         "verdicts": ["violated", "satisfied", "satisfied"]}
    fig = thm31_bound.build({"series": {"a": s, "b": {**s, "verdicts": ["satisfied"] * 3}}})
    try:
        assert len(fig.axes) == 2                                   # one panel per series: no band hides another
        assert "1 of 3 levels above the bound" in " ".join(t.get_text() for t in fig.axes[0].texts)
        assert not fig.axes[1].texts
        assert "slope at small p: 1.00" in fig.axes[0].get_title()
    finally:
        plt.close(fig)


def test_resampling_figure_says_when_the_curves_coincide():
    from sdlscape.figures import resampling

    c = {"step": [0, 1, 2], "loss": [1.0, 0.5, 0.25]}
    fig = resampling.build({"curves": {"without": c, "with": dict(c)}, "note": "9 of 10 dead again"})
    try:
        text = " ".join(t.get_text() for t in fig.axes[0].texts)
        assert "(they coincide)" in text and "9 of 10 dead again" in text
    finally:
        plt.close(fig)
