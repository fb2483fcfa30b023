"""Feature-anchoring terms: eq. 26 and variants of it that keep its intent, by name (TrainConfig.anchor_variant).

Anchors: A_in (a x d_in, unit rows) and A_out (d_out x a, unit columns); the first a latents are anchored.
eq. 26 adds lambda_anchor (||W_E[:a] - A_in||_F^2 + ||W_D[:, :a] - A_out||_F^2).  Its encoder term pulls the
anchored encoder rows to norm 1 while trained rows settle at another norm (about 0.6 at medium scale), so
the anchored latents' pre-activations are inflated and they win TopK slots spuriously; the variants
"cosine" and "normmatch" anchor the encoder row's direction only, or toward A_in scaled to the trained rows'
norm, and keep the decoder term (decoder columns are unit norm, like A_out, so that term has no artefact).
"""
from __future__ import annotations

import torch

VARIANTS: dict[str, str] = {
    "eq26": "both terms of eq. 26: ||W_E[:a] - A_in||^2 + ||W_D[:, :a] - A_out||^2",
    "decoder": "eq. 26's decoder term alone: ||W_D[:, :a] - A_out||^2",
    "encoder": "eq. 26's encoder term alone: ||W_E[:a] - A_in||^2",
    "cosine": "decoder term + direction-only encoder term sum_i ||W_E[i] / ||W_E[i]|| - A_in[i]||^2 "
              "(= 2 sum_i (1 - cos)); the encoder rows' norms stay free",
    "normmatch": "decoder term + ||W_E[:a] - r A_in||^2 with r the mean norm of the non-anchored encoder rows "
                 "that fired in the batch (detached): anchored rows held at the trained rows' norm",
}


def _decoder_term(W_dec: torch.Tensor, A_out: torch.Tensor) -> torch.Tensor:
    a = A_out.shape[1]
    return (W_dec[:a] - A_out.t()).pow(2).sum()


def _trained_norm(W_E: torch.Tensor, a: int, fired: torch.Tensor | None) -> torch.Tensor:
    """Mean norm of the non-anchored encoder rows that fired (all non-anchored rows if none did), detached."""
    rows = W_E.detach()[a:]
    if fired is not None and bool(fired[a:].any()):
        rows = rows[fired[a:]]
    if rows.shape[0] == 0:
        return torch.ones((), dtype=W_E.dtype, device=W_E.device)
    return rows.norm(dim=1).mean()


def anchor_term(variant: str, W_E: torch.Tensor, W_dec: torch.Tensor, A_in: torch.Tensor, A_out: torch.Tensor,
                fired: torch.Tensor | None = None) -> torch.Tensor:
    """The anchoring penalty of ``variant`` (VARIANTS), to be multiplied by lambda_anchor.

    W_dec holds the decoder columns as rows (n_latents x d_out); fired: bool n_latents, latents that
    fired in the batch (used by "normmatch" only).
    """
    a = A_in.shape[0]
    if variant == "decoder":
        return _decoder_term(W_dec, A_out)
    if variant == "eq26":
        return (W_E[:a] - A_in).pow(2).sum() + _decoder_term(W_dec, A_out)
    if variant == "encoder":
        return (W_E[:a] - A_in).pow(2).sum()
    if variant == "cosine":
        unit = W_E[:a] / W_E[:a].norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (unit - A_in).pow(2).sum() + _decoder_term(W_dec, A_out)
    if variant == "normmatch":
        r = _trained_norm(W_E, a, fired)
        return (W_E[:a] - r * A_in).pow(2).sum() + _decoder_term(W_dec, A_out)
    raise ValueError(f"unknown anchoring variant {variant!r}; choose one of {', '.join(VARIANTS)}")
