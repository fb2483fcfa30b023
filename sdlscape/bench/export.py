"""Export a trained SDL dictionary as safetensors + JSON config in SAELens's on-disk layout.

SAELens stores ``sae_weights.safetensors`` with W_enc (d_in x d_sae), W_dec (d_sae x d_in),
b_enc (d_sae), b_dec (d_in) and, for JumpReLU, threshold (d_sae), next to ``cfg.json``
(architecture, d_in, d_sae, dtype, device, apply_b_dec_to_input, normalize_activations, ...).
Our models have no decoder bias (Def. 2.3), so b_dec is written as zeros; b_enc is the ReLU code's encoder
bias and zeros for the other codes (a gated model writes
b_gate, r_mag, b_mag instead of b_enc); only a JumpReLU reading has ``threshold`` (SAELens's
load_state_dict refuses keys an architecture lacks: tests/bench/test_saelens_client.py); for a transcoder
W_dec is d_sae x d_out and cfg.json records d_out.  BatchTopK's global inference threshold and
JumpReLU's learned thresholds are written as ``threshold`` (a JumpReLU reading of the model).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

WEIGHTS_FILENAME = "sae_weights.safetensors"
CFG_FILENAME = "cfg.json"

GATED_PARAMS = ("b_gate", "r_mag", "b_mag")   # per-latent parameters of the gated code, SAELens's names


def export_saelens(model, out_dir, metadata: dict | None = None) -> dict[str, str]:
    """Write the model to out_dir in SAELens layout; returns the two file paths."""
    import torch
    from safetensors.torch import save as save_bytes

    from sdlscape.bench.methods import SAELENS_ARCHITECTURE, by_code
    from sdlscape.storage import write_bytes, write_json

    cfg = model.config
    arch = SAELENS_ARCHITECTURE[cfg.activation]
    W_E = model.W_E.detach().float().cpu()
    W_D = model.W_D.detach().float().cpu()
    d_sae, d_in = W_E.shape
    d_out = W_D.shape[0]
    tensors = {"W_enc": W_E.t().contiguous(), "W_dec": W_D.t().contiguous(), "b_dec": torch.zeros(d_out)}
    if arch == "gated":       # SAELens's gated SAE has b_gate / r_mag / b_mag in place of b_enc
        for name in GATED_PARAMS:
            tensors[name] = getattr(model, name).detach().float().cpu().contiguous()
    elif hasattr(model, "b_enc"):   # the ReLU code's encoder bias
        tensors["b_enc"] = model.b_enc.detach().float().cpu().contiguous()
    else:
        tensors["b_enc"] = torch.zeros(d_sae)
    if arch == "jumprelu":    # SAELens refuses keys its architecture does not have
        tensors["threshold"] = model.threshold().detach().float().cpu().contiguous()
    config = {
        "architecture": arch,
        "d_in": int(d_in),
        "d_sae": int(d_sae),
        "d_out": int(d_out),
        "dtype": "float32",
        "device": "cpu",
        "apply_b_dec_to_input": False,
        "normalize_activations": "none",
        "activation_fn_str": "relu",
        "metadata": {"sdlscape_activation": cfg.activation, "sdlscape_config": asdict(cfg), **(metadata or {})},
    }
    method = by_code(cfg.activation)
    if method.uses_k and not model.code.per_batch:
        config["k"] = int(cfg.k)
        config["rescale_acts_by_decoder_norm"] = False   # our TopK selects on W_E x alone
    if method.note:
        config["metadata"]["note"] = method.note
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_bytes(out / WEIGHTS_FILENAME, save_bytes(tensors, metadata={"format": "pt"}))
    write_json(out / CFG_FILENAME, config)
    return {"weights": str(out / WEIGHTS_FILENAME), "config": str(out / CFG_FILENAME)}


def load_saelens(out_dir) -> tuple[dict[str, np.ndarray], dict]:
    """Read back (tensors as numpy, cfg dict) from a directory written by export_saelens."""
    from safetensors.numpy import load_file

    out = Path(out_dir)
    return load_file(str(out / WEIGHTS_FILENAME)), json.loads((out / CFG_FILENAME).read_text())
