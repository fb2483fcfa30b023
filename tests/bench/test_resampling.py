"""train_sdl records which latents it resampled; bench.resampling._redeath says whether they died again."""
import torch

from sdlscape.bench.resampling import _redeath
from sdlscape.solvers.gradient import TrainConfig, train_sdl


def test_resampled_latents_are_recorded_and_redeath_counted():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 8, generator=g).abs()
    cfg = TrainConfig(activation="relu", n_latents=64, steps=300, batch_size=128, l1_coef=1.0, resample_every=100, dead_steps=50,
                      log_every=10)
    res = train_sdl(x, None, cfg)
    assert res.resampled and all(st in (100, 200) for st, _ in res.resampled)
    assert all(0 <= i < 64 for _, ids in res.resampled for i in ids)
    no = train_sdl(x, None, TrainConfig(**{**cfg.__dict__, "resample_every": None}))
    assert no.resampled == []
    with torch.no_grad():
        dead = (res.model.encode(x) > 0).any(0).logical_not()
    r = _redeath(res.resampled, dead, res.history)
    ever = {i for _, ids in res.resampled for i in ids}
    assert r["n_latents_ever_resampled"] == len(ever)
    assert abs(r["fraction_resampled_dead_at_end"] - sum(bool(dead[i]) for i in ever) / len(ever)) < 1e-12
    fake = torch.zeros(64, dtype=torch.bool)        # a false variant: nobody dead -> 0, not what we measured
    assert _redeath(res.resampled, fake, res.history)["fraction_resampled_dead_at_end"] == 0.0
