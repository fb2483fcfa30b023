"""Anchoring variants (solvers/anchor_terms.py) and the anchoring experiment (bench/anchoring.py)."""
import json
from pathlib import Path

import pytest
import torch

from sdlscape.bench import anchoring as an
from sdlscape.bench.scales import SCALES
from sdlscape.cli import main
from sdlscape.errors import InputError
from sdlscape.solvers.anchor_terms import VARIANTS, anchor_term
from sdlscape.solvers.gradient import SDLModel, TrainConfig, anchor_penalty, sdl_loss

ROOT = Path(__file__).resolve().parents[2]


def _setup(a=3, n=12, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    W_E = torch.randn(n, d, generator=g)
    W_dec = torch.randn(n, d, generator=g)
    A_in = torch.nn.functional.normalize(torch.randn(a, d, generator=g), dim=1)
    return W_E, W_dec, A_in, A_in.t().clone()


def test_eq26_is_the_sum_of_its_two_terms_and_the_old_formula():
    W_E, W_dec, A_in, A_out = _setup()
    both = anchor_term("eq26", W_E, W_dec, A_in, A_out)
    assert torch.allclose(both, anchor_term("encoder", W_E, W_dec, A_in, A_out)
                          + anchor_term("decoder", W_E, W_dec, A_in, A_out))
    a = A_in.shape[0]
    old = (W_E[:a] - A_in).pow(2).sum() + (W_dec[:a] - A_out.t()).pow(2).sum()
    assert torch.allclose(both, old)


def test_cosine_anchor_ignores_the_norm_of_anchored_rows():
    W_E, W_dec, A_in, A_out = _setup()
    scaled = W_E.clone()
    scaled[:3] *= 7.0
    assert torch.allclose(anchor_term("cosine", W_E, W_dec, A_in, A_out),
                          anchor_term("cosine", scaled, W_dec, A_in, A_out))
    assert not torch.allclose(anchor_term("eq26", W_E, W_dec, A_in, A_out),
                              anchor_term("eq26", scaled, W_dec, A_in, A_out))
    W = W_E.clone().requires_grad_(True)         # its gradient is orthogonal to each anchored row
    anchor_term("cosine", W, W_dec, A_in, A_out).backward()
    assert torch.allclose((W.grad[:3] * W_E[:3]).sum(1), torch.zeros(3), atol=1e-5)


def test_normmatch_anchor_is_zero_at_the_fired_trained_rows_mean_norm():
    W_E, W_dec, A_in, A_out = _setup()
    fired = torch.zeros(W_E.shape[0], dtype=torch.bool)
    fired[[4, 6, 9]] = True
    r = W_E[[4, 6, 9]].norm(dim=1).mean()
    W_E[:3] = r * A_in
    W_dec[:3] = A_out.t()
    assert float(anchor_term("normmatch", W_E, W_dec, A_in, A_out, fired)) == pytest.approx(0.0, abs=1e-10)
    assert float(anchor_term("eq26", W_E, W_dec, A_in, A_out)) > 1e-3      # unit-norm anchors: not zero


def test_unknown_variant_is_refused():
    W_E, W_dec, A_in, A_out = _setup()
    with pytest.raises(ValueError):
        anchor_term("sideways", W_E, W_dec, A_in, A_out)
    with pytest.raises(InputError, match="anchor_variant"):
        TrainConfig("topk_relu", 16, k=2, anchor_variant="sideways").validate()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_training_loss_uses_the_configured_variant(variant):
    torch.manual_seed(0)
    cfg = TrainConfig("topk_relu", 16, k=2, anchor_coef=0.5, anchor_variant=variant)
    model = SDLModel(5, 5, cfg)
    x = torch.randn(32, 5)
    A_in = torch.nn.functional.normalize(torch.randn(3, 5), dim=1)
    anchors = (A_in, A_in.t().clone())
    plain = TrainConfig("topk_relu", 16, k=2)
    base, _ = sdl_loss(model, x, x)
    loss, info = sdl_loss(model, x, x, anchors=anchors)
    assert model.config.anchor_variant == variant and plain.anchor_variant == "eq26"
    assert float((loss - base).detach()) == pytest.approx(0.5 * info["anchor"], rel=1e-5)
    c = info["codes"]
    assert info["anchor"] == pytest.approx(float(anchor_penalty(model, anchors, c.fired).detach()), rel=1e-6)


def test_paired_verdicts():
    assert an.paired([0.5, 0.6, 0.55], [0.2, 0.3, 0.25])["verdict"] == "hurts"
    assert an.paired([0.5, 0.6, 0.55], [0.8, 0.9, 0.86])["verdict"] == "helps"
    mixed = an.paired([0.5, 0.6, 0.55], [0.55, 0.5, 0.56])
    assert mixed["verdict"] == "no effect" and mixed["p"] > 0.05
    assert an.paired([0.5], [0.2])["verdict"] == "untested"
    assert an.paired([0.5, 0.5], [0.5, 0.5])["verdict"] == "no effect"


def test_size_scales_keep_the_paper_ratios():
    assert an.size_scale(250) is SCALES["medium"] and an.size_scale(50) is SCALES["small"]
    sc = an.size_scale(100)
    assert (sc.n, sc.n_p, sc.n_latents, sc.k(128), sc.n_anchors) == (100, 77, 1600, 13, 10)
    with pytest.raises(InputError):
        an.size_scale(3)


def test_reference_rows_from_the_committed_medium_table():
    table = json.loads((ROOT / "results/bench/table1_medium_topk.json").read_text())
    ref = an.reference_rows(table, SCALES["medium"])
    assert set(ref) == {("medium", "topk", "plain"), ("medium", "topk", "eq26")}
    assert [m["seed"] for m in ref[("medium", "topk", "plain")]] == [0, 1, 2]
    with pytest.raises(InputError):
        an.reference_rows(table, SCALES["small"])


def test_tiny_anchoring_run_writes_paired_rows(tmp_path, capsys):
    out = tmp_path / "a.json"
    rc = main(["bench", "anchoring", "--scale", "small", "--methods", "topk", "--variants", "plain,eq26,normmatch",
               "--seeds", "2", "--steps", "30", "--threads", "1", "--no-progress", "--json", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    rows = {r["variant"]: r for r in res["rows"]}
    assert set(rows) == {"plain", "eq26", "normmatch"} and res["provenance"]["seconds"] > 0
    assert "vs_plain" not in rows["plain"]
    for v in ("eq26", "normmatch"):
        vp = rows[v]["vs_plain"]["M_GT_decoder_95"]
        assert len(vp["diffs"]) == 2 and vp["verdict"] in ("helps", "hurts", "no effect")
        assert 0.0 <= rows[v]["anchored_rate"] <= 1.0 and rows[v]["n_seeds"] == 2
    assert "normmatch" in capsys.readouterr().out


def test_anchoring_bad_input_exits_2(tmp_path, capsys):
    out = tmp_path / "a.json"
    for argv in (["--methods", "jumprelu"], ["--variants", "sideways"], ["--sizes", "x"]):
        rc = main(["bench", "anchoring", "--no-progress", "--steps", "1", "--json", str(out)] + argv)
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1, err
        assert not out.exists()
