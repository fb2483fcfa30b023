"""SAELens as a real client of our export: SAE.load_from_disk reads bench/export.py's files and reproduces us.

Skipped only when the optional extra sae-lens is absent.  Tolerance: 1e-5 absolute on latents and
reconstructions (float32 matmuls in a different order; latents here are O(1)).
"""
import pytest
import torch

sae_lens = pytest.importorskip("sae_lens")

from sdlscape.bench.export import export_saelens, load_saelens  # noqa: E402
from sdlscape.bench.methods import METHODS  # noqa: E402
from sdlscape.solvers.gradient import TrainConfig, train_sdl  # noqa: E402

ATOL = 1e-5
# every SAE method of the registry (transcoder / crosscoder are not SAELens SAEs of one input)
SAE_METHODS = [m for m in METHODS.values() if m.kind == "sae"]


def _trained(method, d=8, n_latents=24, normalize_decoder=True):
    cfg = TrainConfig(activation=method.code, n_latents=n_latents, k=3, steps=40, batch_size=64, lr=1e-2,
                      auxk=4 if method.auxk else None, l1_coef=1e-3, l0_coef=1e-3,
                      normalize_decoder=normalize_decoder)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(512, d, generator=g).abs() * (torch.rand(512, d, generator=g) < 0.4)
    return train_sdl(x, None, cfg).model, x


@pytest.mark.parametrize("normalize_decoder", [True, False], ids=["unit-decoder", "free-decoder-norms"])
@pytest.mark.parametrize("method", SAE_METHODS, ids=[m.name for m in SAE_METHODS])
def test_saelens_loads_our_export_and_reproduces_encode_decode(tmp_path, method, normalize_decoder):
    model, x = _trained(method, normalize_decoder=normalize_decoder)
    if not normalize_decoder:   # decoder norms away from 1: a norm-rescaling reader would disagree
        assert (model.W_dec.norm(dim=1) - 1).abs().max() > 1e-2
    export_saelens(model, tmp_path)
    sae = sae_lens.SAE.load_from_disk(tmp_path, device="cpu")
    assert sae.cfg.architecture() == method.saelens_architecture
    xb = x[:128]
    with torch.no_grad():
        ours_q, ours_r = model.encode(xb), model(xb)
        theirs_q = sae.encode(xb)
        theirs_r = sae.decode(theirs_q)
    assert (ours_q > 0).any(), "a model with no active latents would make this test vacuous"
    torch.testing.assert_close(theirs_q, ours_q, atol=ATOL, rtol=0)
    torch.testing.assert_close(theirs_r, ours_r, atol=ATOL, rtol=0)


def test_a_wrong_export_is_caught(tmp_path):
    """The deliberately false variant: a perturbed encoder in the file no longer reproduces the model."""
    from safetensors.torch import save_file

    model, x = _trained(METHODS["topk"])
    export_saelens(model, tmp_path)
    tensors, _ = load_saelens(tmp_path)
    tensors = {k: torch.from_numpy(v) for k, v in tensors.items()}
    tensors["W_enc"] = tensors["W_enc"] + 0.05 * torch.randn_like(tensors["W_enc"])
    save_file(tensors, str(tmp_path / "sae_weights.safetensors"))
    sae = sae_lens.SAE.load_from_disk(tmp_path, device="cpu")
    with torch.no_grad():
        assert not torch.allclose(sae.encode(x[:128]), model.encode(x[:128]), atol=ATOL)
