"""The landscape map: Example 3.5's pieces and classes, bounds, multiplicities, resuming, bad input."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.errors import InputError
from sdlscape.solvers.checkpoint import load_checkpoint
from sdlscape.solvers.landscape import (
    checkpoint_path,
    count_pieces,
    enumerate_pieces,
    map_landscape,
    multiplicity,
    piece_lower_bound,
    settings_key,
)
from sdlscape.theory.activations import JumpReLU, ReLU, TopK, examples
from sdlscape.theory.instance import example_3_5, random_unit, transcoder_pair
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern, read_pattern


@pytest.fixture(scope="module")
def ex35(tmp_path_factory):
    ck = tmp_path_factory.mktemp("ex35") / "ex35.json.checkpoint.json"
    return map_landscape(example_3_5(), starts=3, seed=0, checkpoint=ck, keep_checkpoint=True), ck


def _by_key(res):
    return {p["key"]: p for p in res.to_dict()["pieces"]}


def test_example_3_5_map(ex35):
    res, _ = ex35
    d = res.to_dict()
    s = d["summary"]
    pieces = _by_key(res)
    # every labelled pattern of Top-1 o ReLU on 2 features and 2 latents: each feature picks latent 1, 2 or none
    assert s["pieces"] == 5 and s["labelled_patterns"] == 9
    assert set(pieces) == {"[[0],[1]]", "[[],[0,1]]", "[[],[0]]", "[[],[1]]", "[[],[]]"}
    mono = pieces["[[0],[1]]"]
    assert mono["class"] == "global" and abs(mono["loss"]) < 1e-8 and mono["multiplicity"] == 2
    assert mono["recovery"]["decoder_min"] > 0.999 and not mono["polysemantic"]
    paper = pieces["[[],[0,1]]"]   # the paper's spurious partial minimum: one latent for both features, one dead
    assert paper["class"] == "spurious" and abs(paper["loss"] - 1.0) < 1e-6
    assert paper["polysemantic"] and paper["dead_latents"] == [0]
    assert paper["certified"] and abs(paper["lower_bound"] - 1.0) < 1e-12   # rank-1 bound: 2 - lambda_max(I) = 1
    # Example 3.5's partial minimum lies inside its region (W_E = (1, 1) row): the infimum is attained inside
    assert paper["infimum_attained_inside"] and paper["infimum_on_boundary"] is False
    assert abs(s["global_value"]) < 1e-8 and s["global_certified"]
    for key in ("[[],[0]]", "[[],[1]]"):   # one feature dropped: loss M_d = 1, certified by the bound
        assert pieces[key]["class"] == "spurious" and abs(pieces[key]["loss"] - 1.0) < 1e-6 and pieces[key]["certified"]
    dead = pieces["[[],[]]"]   # both latents dead: L~ = 2 wherever W_E is
    assert dead["lower_bound"] == 2.0
    assert dead["class"] in ("spurious", "inconclusive") and (dead["loss"] is None or abs(dead["loss"] - 2) < 1e-9)
    assert sum(s["counts"].values()) == 5 and s["counts"]["global"] == 1 and s["counts"]["leaves_region"] == 0
    assert s["counts"]["spurious"] + s["counts"]["inconclusive"] == 4 and s["counts"]["spurious"] >= 3
    assert sum(s["counts_weighted"].values()) == 9
    for p in d["pieces"]:
        assert p["class"] in ("global", "spurious", "leaves_region", "inconclusive")
        if p["upper_bound"] is not None:
            assert p["lower_bound"] <= p["upper_bound"] + 1e-9


def test_infimum_on_boundary_only_where_no_inside_point_attains_it():
    """relu_n3_np2_q2's leaves_region pieces have no ACS partial optimum: their infima stay on a face."""
    res = map_landscape(random_unit(3, 2, ReLU(), n_latents=2, seed=0), starts=2, seed=0)
    pieces = res.to_dict()["pieces"]
    for p in pieces:
        if p["infimum_attained_inside"]:
            assert p["infimum_on_boundary"] is False and p["acs_loss"] <= p["loss"] * (1 + 1e-6) + 1e-9
    assert any(p["infimum_on_boundary"] for p in pieces if p["class"] == "leaves_region")


def test_landscape_contract_keys(ex35):
    d = ex35[0].to_dict()
    assert {"cells_per_latent", "pieces", "global_value", "counts"} <= set(d["summary"])
    assert set(d["summary"]["counts"]) == {"global", "spurious", "leaves_region", "inconclusive"}
    for p in d["pieces"]:
        assert {"pattern", "class", "loss", "W_E", "W_D", "multiplicity", "lower_bound"} <= set(p)
    json.dumps(d)   # plain JSON types


def test_resume_from_checkpoint(ex35, tmp_path):
    res, ck = ex35
    assert ck.exists()
    again = map_landscape(example_3_5(), starts=3, seed=0, checkpoint=ck, keep_checkpoint=True)
    assert again.summary["resumed_pieces"] == 5
    assert [(p["key"], p["class"], p["loss"]) for p in again.pieces] == [(p["key"], p["class"], p["loss"]) for p in res.pieces]
    # an interrupted run: only two pieces in the checkpoint; the rest are solved, the two are not redone
    head, *lines = ck.read_text().splitlines()
    assert len(lines) == 5                            # a journal: the header, then one line per finished piece
    keep = [json.loads(line) for line in lines[:2]]
    for e in keep:
        e["result"]["seconds"] = -1.0   # a marker: a re-solved piece would carry a positive time
    part = tmp_path / "part.checkpoint.json"
    part.write_text("\n".join([head] + [json.dumps(e) for e in keep]) + '\n{"pattern": "torn')   # a torn last line
    resumed = map_landscape(example_3_5(), starts=3, seed=0, checkpoint=part, keep_checkpoint=True)
    assert resumed.summary["resumed_pieces"] == 2
    assert sum(p["seconds"] == -1.0 for p in resumed.pieces) == 2
    assert len(load_checkpoint(part, json.loads(head)["key"])) == 5
    # other settings -> another key -> nothing reused
    assert settings_key(example_3_5(), 3, 1, 1e-3) != json.loads(head)["key"]
    other = map_landscape(example_3_5(), starts=1, seed=1, checkpoint=tmp_path / "x.json")
    assert other.summary["resumed_pieces"] == 0
    assert not (tmp_path / "x.json").exists()     # a finished run deletes its checkpoint by default


def test_checkpoint_path_next_to_json(tmp_path):
    assert checkpoint_path(tmp_path / "out.json") == tmp_path / "out.json.checkpoint.json"


def test_relu_pieces_are_multisets_of_cells():
    inst = random_unit(3, 2, "relu", n_latents=2, seed=0)
    pc = count_pieces(inst)
    c = pc.cells_per_latent
    assert pc.n_pieces == math.comb(c + 1, 2)
    assert sum(s.multiplicity for s in pc.pieces) == c ** 2      # every labelled pair of cells, once
    assert len({s.pattern for s in pc.pieces}) == pc.n_pieces
    for s in pc.pieces:
        assert s.pattern == s.pattern.canonical()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), activation=st.sampled_from(examples()))
def test_lower_bound_below_loss_everywhere(seed, activation):
    """piece_lower_bound(P) <= L~(W_D, W_E) for every W_E with pattern P and every W_D (every registered sigma)."""
    inst = transcoder_pair(4, 3, 3, activation, n_latents=3, seed=seed % 7)
    rng = np.random.default_rng(seed)
    W_E = rng.standard_normal((3, 3))
    W_D = rng.standard_normal((3, 3))
    pattern = read_pattern(inst, W_E, inst.activation.linear_reading)
    from sdlscape.solvers.blocks import decoder_closed_form

    best_D = decoder_closed_form(inst, W_E, pattern.mask)
    lb = piece_lower_bound(inst, pattern)
    assert lb <= approx_loss(inst, best_D, W_E) + 1e-9
    assert lb <= approx_loss(inst, W_D, W_E) + 1e-9


def test_multiplicity():
    P = Pattern.parse([[0], [0], [1]], 2, 3)
    assert multiplicity(P) == 3
    assert multiplicity(Pattern.parse([[0], [1], []], 2, 3)) == 6


def test_too_many_pieces_refused_before_solving():
    inst = random_unit(6, 3, "relu", n_latents=4, seed=0)
    with pytest.raises(InputError, match=r"has \d+ pieces .* more than --max-pieces 10"):
        enumerate_pieces(inst, max_pieces=10)
    with pytest.raises(InputError, match="more than --max-pieces 3"):
        map_landscape(random_unit(4, 2, TopK(k=1), n_latents=3, seed=0), max_pieces=3)


def test_scheduler_without_dask_is_input_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *a, **kw):
        if name.startswith("dask"):
            raise ImportError("no dask")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(InputError, match=r"sdlscape\[dask\]"):
        map_landscape(example_3_5(), starts=1, scheduler="tcp://127.0.0.1:8786")


def test_workers_pool_matches_serial(ex35):
    res, _ = ex35
    pooled = map_landscape(example_3_5(), starts=3, seed=0, workers=2)
    assert [(p["key"], p["class"]) for p in pooled.pieces] == [(p["key"], p["class"]) for p in res.pieces]
    for a, b in zip(pooled.pieces, res.pieces):
        assert (a["loss"] is None) == (b["loss"] is None)
        if a["loss"] is not None:
            assert abs(a["loss"] - b["loss"]) < 1e-9


def test_relu_instance_with_spurious_minima():
    inst = random_unit(3, 2, "relu", n_latents=2, seed=0)
    res = map_landscape(inst, starts=3, seed=0)
    s = res.summary
    assert s["counts"]["global"] >= 1 and s["counts"]["spurious"] >= 1
    for p in res.pieces:
        if p["class"] == "spurious":
            assert p["loss"] > s["global_value"] + 1e-6


def test_dask_scheduler_matches_serial(ex35):
    """The optional Dask path (pip install sdlscape[dask]) against an in-process local cluster."""
    distributed = pytest.importorskip("dask.distributed", reason="the optional extra sdlscape[dask] is not installed")
    res, _ = ex35
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl:
        via_dask = map_landscape(example_3_5(), starts=3, seed=0, scheduler=cl.scheduler_address)
    assert [(p["key"], p["class"], p["loss"]) for p in via_dask.pieces] == [(p["key"], p["class"], p["loss"]) for p in res.pieces]


def test_unreachable_scheduler_is_input_error(monkeypatch):
    pytest.importorskip("dask.distributed", reason="the optional extra sdlscape[dask] is not installed")
    monkeypatch.setattr("sdlscape.solvers.fanout.DASK_CONNECT_TIMEOUT", "1s")
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        map_landscape(example_3_5(), starts=1, scheduler="tcp://127.0.0.1:1")


def test_jumprelu_landscape_orthogonal():
    """Two orthogonal features, one JumpReLU latent: the pieces are the cells {}, {0}, {1}, {0,1}. One decoder
    column reconstructs one direction, so the nonempty cells have minimum 1 (the rank-1 bound), {} has 2."""
    from sdlscape.theory.instance import orthogonal

    inst = orthogonal(2, JumpReLU(theta=0.5), n_latents=1)
    res = map_landscape(inst, starts=2, seed=0)
    pieces = _by_key(res)
    assert set(pieces) == {"[[]]", "[[0]]", "[[1]]", "[[0,1]]"}
    for key in ("[[0]]", "[[1]]", "[[0,1]]"):
        assert pieces[key]["lower_bound"] == pytest.approx(1.0)
    assert pieces["[[]]"]["lower_bound"] == pytest.approx(2.0)
    assert res.summary["global_value"] == pytest.approx(1.0, abs=1e-6) and res.summary["global_certified"]
    assert pieces["[[0]]"]["class"] == "global"


# -- drawing and reporting the committed landscapes (read results, compute nothing) ----------------

def _committed(name):
    from pathlib import Path

    d = json.loads((Path(__file__).parents[2] / "results" / "landscape" / f"{name}.json").read_text())
    d["instance"] = name
    return d


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize("name", ["relu_n3_np2_q2", "topk1_n4_np2_q3", "example_3_5"])
def test_landscape_map_labels_do_not_overlap_and_cover_no_point(name):
    import matplotlib.pyplot as plt

    from sdlscape.figures.landscape_map import build

    land = _committed(name)
    land["pieces"].append({"pattern": [[], []], "class": "leaves_region", "loss": None, "multiplicity": 1})
    fig, ax, art = build(land)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    pts = np.vstack([ax.transData.transform(a.get_offsets()) for a in art["points"]])
    assert len(pts) == sum(p["loss"] is not None for p in land["pieces"])
    covers = [art["legend"].get_window_extent(r), art["note"].get_window_extent(r)]
    assert art["note"].get_text().startswith("+ 1 pieces")
    for box in covers:
        assert not any(box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1 for x, y in pts)
    assert not _boxes_overlap(*covers)
    labels = [t.get_window_extent(r) for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) == len(pts)
    assert not any(_boxes_overlap(a, b) for a, b in zip(labels, labels[1:]))
    plt.close(fig)


def test_overlapping_labels_would_be_caught():
    """Deliberately false variant of the overlap check: labels drawn at one spot must be flagged."""
    import matplotlib.pyplot as plt

    from sdlscape.figures.landscape_map import build

    fig, ax, _ = build(_committed("topk1_n4_np2_q3"))
    texts = [ax.annotate(str(p["pattern"]), (0, 0)) for p in _committed("topk1_n4_np2_q3")["pieces"]]
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in texts]
    assert any(_boxes_overlap(a, b) for a, b in zip(boxes, boxes[1:]))
    plt.close(fig)


def test_report_section_has_the_piece_tables_and_the_certified_global():
    from sdlscape.formatting import value
    from sdlscape.pipeline.document import Document, Table, to_markdown
    from sdlscape.pipeline.sections import landscape as section

    lands = {n: _committed(n) for n in ("relu_n3_np2_q2", "hier_relu_3_np2_q2")}
    blocks = section.blocks({"landscapes": lands})
    tables = [b for b in blocks if isinstance(b, Table)]
    assert len(tables) == 1 + len(lands)
    summary = tables[0]
    for row, land in zip(summary.rows, lands.values()):
        assert row[6] == value(land["summary"]["global_value"]) and row[8] is land["summary"]["global_certified"]
    for t, land in zip(tables[1:], lands.values()):
        assert list(t.header[:9]) == ["pattern", "mult.", "class", "value", "lower bound", "gap", "certified",
                                      "by", "infimum at"]
        assert len(t.rows) == len(land["pieces"])
        for row, p in zip(t.rows, land["pieces"]):
            assert row[3] == value(p["loss"]) and row[4] == value(p["lower_bound"]) and row[6] is p["certified"]
            assert row[8].startswith("boundary") == bool(p["infimum_on_boundary"])
    md = to_markdown(Document("t", blocks))
    face = next(p for p in lands["relu_n3_np2_q2"]["pieces"] if p["infimum_on_boundary"])["boundary_face"][0]
    assert f"latent {face['latent']}: code of {face['features']} -> 0" in md
    assert "Pieces of relu_n3_np2_q2" in md and "certified at tolerance" in md


def test_an_inside_point_attains_the_infimum_only_if_certified_and_not_above_it():
    """infimum_attained_inside needs a certified value and an ACS partial optimum at that value (within tol):
    a saddle above the piece minimum (acs_excess > 0) or an uncertified value does not count."""
    from sdlscape.pipeline.reproduce import canonical_instances

    tol = 1e-6
    jr = map_landscape(canonical_instances()["jumprelu_n3_np2_q2"], starts=3, seed=0).to_dict()["pieces"]
    saddles = [p for p in jr if p["acs_excess"] is not None and p["acs_excess"] > tol * max(1.0, p["loss"])]
    assert saddles, "the jumprelu instance has partial optima above their piece minimum"
    assert not any(p["infimum_attained_inside"] for p in saddles)
    relu = map_landscape(random_unit(4, 2, ReLU(), n_latents=2, seed=0), starts=2, seed=0,
                         certify=False).to_dict()["pieces"]
    uncertified_optima = [p for p in relu if not p["certified"] and p["acs_loss"] is not None]
    assert uncertified_optima, "without the certifier some pieces with a partial optimum stay uncertified"
    assert not any(p["infimum_attained_inside"] for p in uncertified_optima)
