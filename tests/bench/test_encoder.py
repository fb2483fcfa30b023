"""The encoder experiment (bench/encoder.py): oracle run, tied / early-stopping variants, figure and section."""
import numpy as np
import pytest
import torch

from sdlscape.bench import encoder as enc
from sdlscape.errors import InputError
from sdlscape.solvers.gradient import TrainConfig, train_sdl

SHORT = {"oracle": 200, "free": 150, "early": 100}


@pytest.fixture(scope="module")
def result():
    torch.set_num_threads(1)
    return enc.run_encoder_experiment("small", keep_models=True, steps=SHORT)


def test_oracle_starts_at_the_truth_and_records_its_curve(result):
    oc = result["oracle"]["curves"]
    log = result["settings"]["log_every"]
    assert oc["step"] == list(range(0, SHORT["oracle"] + 1, log))
    assert oc["enc_M_IP"][0] == pytest.approx(1.0, abs=1e-6)
    assert oc["enc_M_GT@0.95"][0] == 1.0
    assert all(len(v) == len(oc["step"]) for v in oc.values())


def test_oracle_decoder_stays_at_the_truth_and_encoder_moves(result):
    model = result["models"]["oracle"]
    bench_truth = _truth(result)
    assert torch.equal(model.W_dec.detach(), bench_truth.t())            # frozen: bit-identical
    oc = result["oracle"]["curves"]
    assert all(v == pytest.approx(1.0, abs=1e-6) for v in oc["dec_M_IP"])
    assert oc["enc_M_IP"][-1] < 1.0 - 1e-3                              # the encoder left the features
    assert oc["fvu"][-1] < oc["fvu"][0]                                  # ... and reconstruction improved


def _truth(result):
    from sdlscape.bench.lrb import BenchConfig, make_bench

    s = result["settings"]
    b = make_bench(BenchConfig(n=s["n"], n_p=s["n_p"], n_samples=64, p_active=s["p_active"],
                               max_interference=s["M"], seed=s["seed"]))
    return b.truth_in


def test_tied_model_encoder_is_decoder_transpose(result):
    tied, free = result["models"]["tied"], result["models"]["free"]
    assert tied.W_E is tied.W_dec
    assert torch.equal(tied.W_E.t(), tied.W_D)
    assert [n for n, _ in tied.named_parameters()] == ["W_dec"]
    # the deliberately false variant: the untied model (same tied init) is no longer tied after training
    assert not torch.allclose(free.W_E, free.W_dec, atol=1e-3)
    h = result["hypotheses"]["tied"]
    assert h["final"]["enc_M_IP"] == pytest.approx(h["final"]["dec_M_IP"], abs=1e-9)


def test_tied_model_trains_one_parameter():
    cfg = TrainConfig("topk_relu", n_latents=12, k=2, steps=5, batch_size=16)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=g)
    m = enc.TiedSDLModel(6, cfg, generator=torch.Generator().manual_seed(0))
    before = m.W_dec.detach().clone()
    train_sdl(x, None, cfg, model=m)
    assert not torch.equal(before, m.W_dec.detach())
    assert m.W_E is m.W_dec


def test_saelens_init_has_small_decoder_and_transposed_encoder():
    cfg = TrainConfig("topk_relu", n_latents=20, k=2, normalize_decoder=False)
    m = enc.saelens_init_model(8, cfg, 0.1)
    assert torch.allclose(m.W_dec.norm(dim=1), torch.full((20,), 0.1), atol=1e-6)
    assert torch.equal(m.W_E, m.W_dec)


def test_early_stopping_peak_is_the_max_of_its_curve(result):
    e = result["hypotheses"]["early_stopping"]
    c = e["curves"]["enc_M_GT@0.95"]
    assert e["peak"]["enc_M_GT"] == max(c)
    assert e["curves"]["step"][1] - e["curves"]["step"][0] == result["settings"]["early_log_every"]
    assert result["settings"]["init_norm"] == 0.1


def test_unknown_scale_is_refused():
    with pytest.raises(InputError, match="scale"):
        enc.run_encoder_experiment("huge")


def test_figure_and_section_draw_from_a_saved_result(result, tmp_path):
    from sdlscape.figures import encoder_curves
    from sdlscape.pipeline.document import Paragraph, Table
    from sdlscape.pipeline.sections import encoder as section
    from sdlscape.storage import read_json, write_json

    saved = {k: v for k, v in result.items() if k != "models"}
    write_json(tmp_path / "enc.json", saved)
    loaded = read_json(tmp_path / "enc.json")
    paths = encoder_curves.draw(loaded, tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 1000 for p in paths)
    blocks = section.blocks({"encoder": loaded, "figures": {"encoder_curves": [str(paths[0])]}})
    text = " ".join(b.text for b in blocks if isinstance(b, Paragraph))
    assert "84.90%" in text                                           # the paper's number, labelled
    oc = loaded["oracle"]["curves"]
    assert f"{oc['enc_M_IP'][-1]:.3g}" in text                        # ours, read from the run
    table = next(b for b in blocks if isinstance(b, Table))
    assert table.rows[-1][0].startswith("paper") and table.rows[-1][1] == "84.90%"
    assert section.blocks({}) == []


def test_stage_is_registered_with_its_sources(tmp_path):
    import shutil
    from pathlib import Path

    import sdlscape
    from sdlscape.pipeline.reproduce import STAGE_SOURCES, source_hash

    assert any("bench/encoder.py".startswith(p) for p in STAGE_SOURCES["encoder"])
    root = tmp_path / "sdlscape"
    shutil.copytree(Path(sdlscape.__file__).parent, root, ignore=shutil.ignore_patterns("__pycache__"))
    h = source_hash(STAGE_SOURCES["encoder"], root=root)
    with open(root / "bench" / "encoder.py", "a") as f:
        f.write("# edited\n")
    assert h != source_hash(STAGE_SOURCES["encoder"], root=root)


@pytest.mark.slow
def test_small_scale_oracle_moves_off_the_features_within_a_minute():
    torch.set_num_threads(1)
    r = enc.run_encoder_experiment("small")
    oc = r["oracle"]["curves"]
    assert oc["enc_M_IP"][-1] < 0.98 and oc["reader_M_IP"][-1] > oc["reader_M_IP"][0]
    assert r["hypotheses"]["decoder_measured"]["decoder_M_GT"] > r["hypotheses"]["decoder_measured"]["encoder_M_GT"]
    assert r["seconds"] < 90
    assert np.isfinite(r["hypotheses"]["tied"]["final"]["fvu"])
