"""Tests of the SAELens-layout export: shapes, names, and that the file encodes like the model."""
import numpy as np
import pytest
import torch

from sdlscape.bench.export import export_saelens, load_saelens
from sdlscape.solvers.gradient import SDLModel, TrainConfig


@pytest.mark.parametrize("act", ["relu", "jumprelu", "topk_relu"])
def test_export_roundtrip(tmp_path, act):
    cfg = TrainConfig(activation=act, n_latents=20, k=3)
    m = SDLModel(6, 6, cfg, torch.Generator().manual_seed(0))
    export_saelens(m, tmp_path, {"note": "test"})
    t, c = load_saelens(tmp_path)
    assert t["W_enc"].shape == (6, 20) and t["W_dec"].shape == (20, 6)
    assert t["b_enc"].shape == (20,) and t["b_dec"].shape == (6,)
    assert ("threshold" in t) == (act == "jumprelu")   # SAELens refuses keys an architecture lacks
    if act == "jumprelu":
        assert t["threshold"].shape == (20,)
    assert c["d_in"] == 6 and c["d_sae"] == 20 and c["metadata"]["note"] == "test"
    x = torch.randn(5, 6).abs()
    pre = x.numpy() @ t["W_enc"] + t["b_enc"]
    if act == "topk_relu":
        assert c["k"] == 3
        kth = np.sort(pre, axis=1)[:, -3][:, None]
        f = np.where(pre >= kth, np.maximum(pre, 0), 0)
    else:                                        # relu (threshold 0) and jumprelu: relu(pre) * (pre > threshold)
        f = np.maximum(pre, 0) * (pre > t.get("threshold", 0.0))
    with torch.no_grad():
        q = m.encode(x).numpy()
    np.testing.assert_allclose(f, q, atol=1e-5)
    np.testing.assert_allclose(f @ t["W_dec"] + t["b_dec"], m(x).detach().numpy(), atol=1e-5)
