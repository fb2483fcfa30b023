"""Target-L0 calibration of the penalised codes (TrainConfig.target_l0) at the small bench scale."""
import pytest
import torch

from sdlscape.bench.lrb import BenchConfig, make_bench
from sdlscape.solvers.gradient import TrainConfig, train_sdl


@pytest.fixture(scope="module")
def small_bench():
    # the small scale's regime: n = 50, n_p = 38, p_active = 0.01 (expected 0.5 active features per sample)
    return make_bench(BenchConfig(n=50, n_p=38, n_samples=40_000, p_active=0.01, max_interference=0.1, seed=0))


def _l0(model, bench):
    x, _ = bench.sample(20_000, seed=12345)
    with torch.no_grad():
        return float((model.encode(x) > 0).float().sum(1).mean())


def test_relu_sae_reaches_target_l0(small_bench):
    target = 50 * 0.01                      # n * p_active, factor 1.0
    cfg = TrainConfig(activation="relu", n_latents=800, steps=3000, batch_size=128, lr=3e-3, target_l0=target)
    out = train_sdl(small_bench.x_in, None, cfg)
    l0 = _l0(out.model, small_bench)
    assert abs(l0 - target) <= 0.2 * target, l0
    assert out.final_coef is not None and out.final_coef > 10 * cfg.l1_coef   # it had to move far
    assert out.model.b_enc.min() < 0                                            # the encoder bias thresholds


def test_fixed_coefficient_misses_target(small_bench):
    """The deliberately false variant: the old fixed L1 = 3e-2 gives a dense code."""
    cfg = TrainConfig(activation="relu", n_latents=800, steps=1000, batch_size=128, lr=3e-3)
    l0 = _l0(train_sdl(small_bench.x_in, None, cfg).model, small_bench)
    assert l0 > 2 * 0.5, l0


def test_coefficient_is_frozen_at_the_end(small_bench):
    cfg = TrainConfig(activation="jumprelu", n_latents=200, steps=200, batch_size=128, target_l0=0.5,
                      coef_freeze=0.25, log_every=10)
    h = train_sdl(small_bench.x_in, None, cfg).history
    frozen = [c for s, c in zip(h["step"], h["coef"]) if s > 150]
    moving = [c for s, c in zip(h["step"], h["coef"]) if s <= 150]
    assert len(set(frozen)) == 1 and len(set(moving)) > 1
