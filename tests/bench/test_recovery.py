"""An easy bench: a TopK SAE recovers most features (decoder columns), a ReLU SAE far fewer.

Thresholds set from runs at seeds 0-2 (TopK decoder M_GT 0.93-1.00, ReLU 0.00; encoder M_IP TopK
0.78-0.79, ReLU 0.52-0.55), with margin.
"""
import pytest

from sdlscape.bench.lrb import BenchConfig, make_bench
from sdlscape.bench.metrics import feature_recovery, mcc
from sdlscape.solvers.gradient import TrainConfig, train_sdl


@pytest.fixture(scope="module")
def easy_runs():
    b = make_bench(BenchConfig(n=30, n_p=24, n_samples=4000, p_active=0.1, max_interference=0.2, seed=0))
    out = {}
    for act in ("topk_relu", "relu"):
        m = train_sdl(b.x_in, None, TrainConfig(activation=act, n_latents=120, k=4, steps=400, batch_size=128,
                                                lr=3e-3, seed=0)).model
        WE, WD = m.W_E.detach().numpy(), m.W_D.detach().numpy().T
        out[act] = {"dec": feature_recovery(WD, b.truth_in.numpy(), 0.9),
                    "enc": feature_recovery(WE, b.truth_in.numpy(), 0.9), "mcc": mcc(WD, b.truth_in.numpy())}
    return out


def test_topk_recovers_most_features(easy_runs):
    assert easy_runs["topk_relu"]["dec"]["M_GT"] >= 0.75
    assert easy_runs["topk_relu"]["mcc"] >= 0.9


def test_relu_recovers_fewer(easy_runs):
    assert easy_runs["relu"]["dec"]["M_GT"] <= 0.3
    assert easy_runs["relu"]["dec"]["M_GT"] < easy_runs["topk_relu"]["dec"]["M_GT"] - 0.4
    assert easy_runs["relu"]["enc"]["M_IP"] < easy_runs["topk_relu"]["enc"]["M_IP"] - 0.1
