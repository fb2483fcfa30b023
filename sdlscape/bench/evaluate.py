"""Score a dictionary trained elsewhere against a bench's ground truth, in the bench's row format.

The row has every key of a ``bench table1`` row (bench/experiments.py ``summarize``) with the same
meaning: M_GT / M_IP on encoder rows at the table's tau (as the paper), the same on decoder rows
(``M_GT_decoder``), the M_GT(tau) curves, MCC and uniqueness as SAELens defines them, dead fraction,
L0 and FVU on the bench's held-out samples, and the paper's numbers beside (``paper_M_GT``, ``paper_M_IP``).
Anchored features are excluded from the recovery metrics, as the bench excludes them from both its
plain and its anchored rows.  Keys a trained-elsewhere dictionary cannot have (training time, final
loss, coefficient) are None.  Added keys:

* ``M_GT_at_0.9`` / ``M_GT_decoder_at_0.9``: encoder / decoder M_GT at tau = 0.9 (Tables 4-7's tau);
* ``argmax_collisions``: latents whose best-matching true feature (decoder |cos|) is also another
  latent's best match (n_latents - distinct best matches), and ``uniqueness_alive`` the SAELens uniqueness
  over latents that fired on the held-out samples -- a uniqueness that cannot move from 1.0 is a bug
  (SAELens #729's port), so both numbers are reported;
* ``fvu`` applies the SAE's biases as the SAE applies them (its own encode/decode);
* ``absorption`` (when the truth has a hierarchy, e.g. SynthSAEBench): bench/absorption.py's oracle.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from sdlscape.bench import metrics as mt
from sdlscape.bench.loaders import LoadedSAE
from sdlscape.bench.truth import Truth
from sdlscape.errors import InputError

TAUS = tuple(np.round(np.arange(0.5, 1.0, 0.05), 2)) + (0.99,)     # bench/experiments.py TAUS


def _abs_cos(rows: np.ndarray, truth_cols: np.ndarray) -> np.ndarray:
    """|cos| of each learned row with each true column (n_latents x n), float32 for paper sizes."""
    a = np.asarray(rows, dtype=np.float32)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = np.asarray(truth_cols, dtype=np.float32)
    b = b / np.maximum(np.linalg.norm(b, axis=0, keepdims=True), 1e-12)
    return np.abs(a @ b)


def _mcc(S: np.ndarray) -> float:
    r, c = linear_sum_assignment(1.0 - S)
    return float(S[r, c].mean())


def _readers(W: np.ndarray) -> np.ndarray:
    """metrics.reader_directions, (W W^T)^+ W, by a Cholesky solve when W W^T is positive definite (n >= d
    features in general position: 20x cheaper than the pseudo-inverse at 768 dims), else the pseudo-inverse."""
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    W = np.asarray(W, dtype=np.float64)
    G = W @ W.T
    try:
        c = cho_factor(G)
        if np.min(np.abs(np.diag(c[0]))) ** 2 > 1e-10 * np.trace(G) / G.shape[0]:
            return cho_solve(c, W)
    except LinAlgError:
        pass
    return mt.reader_directions(W)


def check_shapes(sae: LoadedSAE, truth: Truth) -> None:
    """The dictionary's input / output dimensions must be the bench's (InputError naming both)."""
    if sae.d_in != truth.d_in or sae.d_out != truth.d_out:
        raise InputError(f"the dictionary reads d_in={sae.d_in} and writes d_out={sae.d_out} "
                         f"({sae.info.get('orientation', 'its own layout')}), but the bench has d_in={truth.d_in}, "
                         f"d_out={truth.d_out}")


def run_codes(sae: LoadedSAE, x: np.ndarray, chunk: int = 1024, keep: bool = False):
    """Encode x in chunks with the SAE's own forward: (codes or None, l0, alive mask, recon)."""
    n_fire = np.zeros(sae.d_sae, dtype=np.int64)
    nnz, recs, kept = 0, [], []
    for s in range(0, x.shape[0], chunk):
        xb = torch.as_tensor(np.asarray(x[s:s + chunk], dtype=np.float32))
        with torch.no_grad():
            c = sae.encode(xb)
            recs.append(sae.decode(c).float().numpy())
        on = c != 0
        nnz += int(on.sum())
        n_fire += on.sum(0).numpy()
        if keep:
            kept.append(c.float().numpy())
    codes = np.concatenate(kept) if keep else None
    return codes, nnz / max(x.shape[0], 1), n_fire > 0, np.concatenate(recs)


def evaluate(sae: LoadedSAE, truth: Truth, method: str | None = None) -> dict:
    """The bench row of ``sae`` scored against ``truth`` (see the module docstring)."""
    check_shapes(sae, truth)
    t0 = time.perf_counter()
    keep = np.ones(truth.n, dtype=bool)
    keep[np.asarray(truth.anchors, dtype=int)] = False
    S_enc = _abs_cos(sae.W_enc, truth.W_in)
    S_dec = _abs_cos(sae.W_dec, truth.W_out)
    enc, dec = S_enc.max(0)[keep], S_dec.max(0)[keep]
    readers = _readers(truth.W_in)
    enc_reader = _abs_cos(sae.W_enc, readers).max(0)[keep]
    reader_truth = np.abs(np.sum(mt._rows_unit(readers.T) * mt._rows_unit(truth.W_in.T), axis=1))
    codes, l0, alive, recon = run_codes(sae, truth.eval_x_in, keep=bool(truth.hierarchy))
    best = S_dec.argmax(1)
    distinct = np.unique(best).size
    tau = truth.tau
    source = truth.source or {}
    row = {
        "method": method or source.get("method") or sae.architecture,
        "label": f"{sae.format}: {sae.architecture} ({sae.path})",
        "anchoring": bool(source.get("anchoring", False)),
        "M_GT": float(np.mean(enc > tau)), "M_IP": float(np.mean(enc)),
        "paper_M_GT": truth.paper.get("paper_M_GT"), "paper_M_IP": truth.paper.get("paper_M_IP"),
        "M_GT_decoder": float(np.mean(dec > tau)), "M_IP_decoder": float(np.mean(dec)),
        "M_GT_at_0.9": float(np.mean(enc > 0.9)), "M_GT_decoder_at_0.9": float(np.mean(dec > 0.9)),
        "curve_encoder": {str(t): float(np.mean(enc > t)) for t in TAUS},
        "curve_decoder": {str(t): float(np.mean(dec > t)) for t in TAUS},
        "mcc_decoder": _mcc(S_dec), "mcc_encoder": _mcc(S_enc),
        "uniqueness_decoder": float(distinct / S_dec.shape[0]),
        "uniqueness_alive": float(np.unique(best[alive]).size / max(int(alive.sum()), 1)),
        "argmax_collisions": int(S_dec.shape[0] - distinct),
        "fvu": mt.fvu(truth.eval_x_out, recon),
        "dead_fraction": float(np.mean(~alive)),
        "l0": float(l0),
        "anchored_encoder_cos": None, "final_loss": None, "train_seconds": None, "final_coef": None,
        "target_l0": (source.get("settings") or {}).get("target_l0"),
        "key": None,
        "M_GT_encoder_vs_reader": float(np.mean(enc_reader > tau)),
        "M_IP_encoder_vs_reader": float(np.mean(enc_reader)),
        "reader_truth_cos_mean": float(np.mean(reader_truth)),
        "settings": {"tau": tau, "n": truth.n, "d_in": truth.d_in, "d_out": truth.d_out, "n_latents": sae.d_sae,
                     "excluded_anchors": int((~keep).sum()), "n_eval": int(truth.eval_x_in.shape[0]),
                     **{k: source[k] for k in ("table", "scale", "seed", "row") if k in source}},
        "sae": {"format": sae.format, "path": sae.path, "architecture": sae.architecture, "d_sae": sae.d_sae,
                "d_in": sae.d_in, "d_out": sae.d_out, **sae.info},
        "seconds": None,
    }
    if truth.hierarchy:           # bench/absorption.py, on the same held-out samples
        from sdlscape.bench.absorption import absorption

        row["absorption"] = {"applicable": True, **absorption(codes, truth.eval_codes, sae.W_dec, truth.W_out,
                                                              truth.hierarchy)}
    if truth.paper.get("paper_note"):
        row["paper_note"] = truth.paper["paper_note"]
    row["seconds"] = time.perf_counter() - t0
    return row


def pw_mcc(a: LoadedSAE, b: LoadedSAE) -> dict:
    """Pairwise MCC of two dictionaries (run-to-run consistency): mean |cos| over the Hungarian matching of
    a's decoder rows to b's (and of the encoder rows), min(d_sae_a, d_sae_b) pairs."""
    if a.d_out != b.d_out or a.d_in != b.d_in:
        raise InputError(f"--sae and --sae2 have different dimensions ({a.d_in}->{a.d_out} vs {b.d_in}->{b.d_out})")
    return {"pw_mcc_decoder": _mcc(_abs_cos(a.W_dec, b.W_dec.T)),
            "pw_mcc_encoder": _mcc(_abs_cos(a.W_enc, b.W_enc.T)),
            "pairs": int(min(a.d_sae, b.d_sae))}
