"""Ground truth from SynthSAEBench (sae_lens.synthetic): a synthetic model generated locally, used as a bench.

SAELens's ``SyntheticModel`` is built from a ``SyntheticModelConfig`` (here from a JSON file or a preset; no
hub download): ``num_features`` unit feature vectors in ``hidden_dim`` dimensions (rows of
``feature_dict.feature_vectors``), a firing law (Zipfian by default, optional correlation), magnitudes, an
optional hierarchy forest (a child fires only when its parent fires: Def. 3.2's parents, with the parent a
feature of its own) and a bias; samples are ``x = acts @ feature_vectors + bias``.

:func:`synth_truth` turns it into a :class:`~sdlscape.bench.truth.Truth`: ``W_in = W_out`` = the feature
vectors as columns, the hierarchy as ``[{"parent", "children"}]`` edges of every node with a feature, no
anchors, tau = 0.9, held-out samples with their true activations (so ``bench evaluate`` also runs the
absorption oracle).  Sampling draws from torch's global generator, so it is seeded (and restored) here.

Interference: the paper's M is max_{i != j} <w_i, w_j> (signed; the Linear Representation Bench bounds it
by construction); SynthSAEBench's dictionary only lowers the mean squared overlap, so its M is measured
and reported (:func:`max_interference`) -- for a bench folder of either kind in ``bench.json``.

The other direction (the LRB as a SynthSAEBench model) is not offered: SynthSAEBench's magnitudes are
normal per feature, not the LRB's c_min + Exp(beta), so the law cannot be written in its config.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sdlscape.errors import InputError

PRESETS = {
    # CI-sized: 64 features in 24 dimensions, 4 trees of 3 children each (parents are features too)
    "small": {"num_features": 64, "hidden_dim": 24, "seed": 0, "bias": 0.0,
              "firing_probability": {"generator_name": "zipfian", "exponent": 1.0, "max_prob": 0.3, "min_prob": 0.01},
              "hierarchy": {"total_root_nodes": 4, "branching_factor": 3, "max_depth": 1}},
    # SynthSAEBench-like proportions at a CPU size: 1024 features in 256 dimensions, 32 trees
    "medium": {"num_features": 1024, "hidden_dim": 256, "seed": 0, "bias": 0.0,
               "firing_probability": {"generator_name": "zipfian", "exponent": 1.0, "max_prob": 0.3, "min_prob": 0.005},
               "hierarchy": {"total_root_nodes": 32, "branching_factor": [2, 6], "max_depth": 2}},
}


def max_interference(W: np.ndarray) -> dict:
    """The paper's M = max_{i != j} <w_i, w_j> over unit columns of W (signed), and max |<w_i, w_j>|."""
    W = np.asarray(W, dtype=np.float64)
    W = W / np.maximum(np.linalg.norm(W, axis=0, keepdims=True), 1e-12)
    if W.shape[1] < 2:
        return {"M": None, "M_abs": None, "mean_sq": None}
    G = W.T @ W
    np.fill_diagonal(G, np.nan)
    return {"M": float(np.nanmax(G)), "M_abs": float(np.nanmax(np.abs(G))), "mean_sq": float(np.nanmean(G ** 2))}


def load_config(spec: str):
    """A SyntheticModelConfig from a preset name or a JSON file (SyntheticModelConfig.to_dict's keys)."""
    if spec not in PRESETS and not Path(spec).is_file():
        raise InputError(f"--synth {spec!r}: neither a preset ({', '.join(PRESETS)}) nor a JSON file")
    try:
        from sae_lens.synthetic import SyntheticModelConfig
    except ImportError:
        raise InputError("SynthSAEBench needs sae-lens: pip install 'sdlscape[saelens]'") from None
    if spec in PRESETS:
        d = json.loads(json.dumps(PRESETS[spec]))
    else:
        try:
            d = json.loads(Path(spec).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"--synth {spec!r}: cannot read JSON ({exc})") from None
    if not isinstance(d, dict):
        raise InputError(f"--synth {spec!r}: a SyntheticModelConfig JSON object is needed")
    d.setdefault("firing_probability", {"generator_name": "zipfian"})
    if isinstance(d.get("hierarchy"), dict) and isinstance(d["hierarchy"].get("branching_factor"), list):
        d["hierarchy"]["branching_factor"] = tuple(d["hierarchy"]["branching_factor"])
    try:
        return SyntheticModelConfig.from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"--synth {spec!r}: not a valid SyntheticModelConfig ({exc})") from None


def hierarchy_edges(hierarchy) -> list[dict]:
    """[{"parent": feature, "children": [features]}] for every node with a feature and featured children."""
    out = []

    def walk(node):
        kids = [c.feature_index for c in node.children if c.feature_index is not None]
        if node.feature_index is not None and kids:
            out.append({"parent": int(node.feature_index), "children": [int(k) for k in kids]})
        for c in node.children:
            walk(c)

    for root in (hierarchy.roots if hierarchy is not None else []):
        walk(root)
    return out


def _sample(model, n: int, seed: int):
    import torch

    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(int(seed))
        x, acts = model.sample_with_features(n)
    finally:
        torch.random.set_rng_state(state)
    acts = acts.to_dense() if acts.is_sparse else acts
    return x.float().numpy(), acts.float().numpy()


def synth_truth(spec: str, n_train: int = 0, n_eval: int = 4096, seed: int = 0):
    """(Truth, x_train, acts_train) of the synthetic model ``spec`` (preset or JSON); training arrays None
    when n_train = 0."""
    from sdlscape.bench.truth import Truth

    cfg = load_config(spec)              # checks the spec before sae-lens is imported
    from sae_lens.synthetic import SyntheticModel

    model = SyntheticModel(cfg)
    F = model.feature_dict.feature_vectors.detach().float().numpy().T          # hidden_dim x num_features
    norms = np.linalg.norm(F, axis=0)
    if np.abs(norms - 1).max() > 1e-4:
        raise InputError(f"--synth {spec!r}: feature vectors are not unit vectors (max |norm - 1| "
                         f"{np.abs(norms - 1).max():.2e})")
    x_eval, a_eval = _sample(model, n_eval, seed + 1_000_003)
    x_tr, a_tr = _sample(model, n_train, seed) if n_train else (None, None)
    bias = model.feature_dict.bias.detach().float().numpy()
    edges = hierarchy_edges(model.hierarchy)
    law = {"kind": "synthsaebench", "config": cfg.to_dict(), "bias_norm": float(np.linalg.norm(bias)),
           "active_rate": float((a_eval != 0).mean()), "samples": "x = acts @ feature_vectors + bias"}
    source = {"table": "synthsaebench", "scale": spec if spec in PRESETS else Path(spec).name, "seed": seed,
              "row": None, "method": None, "anchoring": False, "tau": 0.9, "n_eval": n_eval,
              "interference": max_interference(F), "hierarchy_pairs": sum(len(e["children"]) for e in edges),
              "generator": "sae_lens.synthetic.SyntheticModel (local, from its config)"}
    truth = Truth(W_in=F, W_out=F, anchors=np.zeros(0, np.int64), eval_x_in=x_eval, eval_x_out=x_eval,
                  eval_codes=a_eval, tau=0.9, hierarchy=edges, law=law,
                  paper={"paper_M_GT": None, "paper_M_IP": None,
                         "paper_note": "SynthSAEBench is not a paper bench: no paper numbers"}, source=source)
    return truth, x_tr, a_tr


def write_synth_data(out, spec: str, n_train: int, n_eval: int = 4096, seed: int = 0, record: dict | None = None):
    """``bench data --synth``: the synthetic model as a bench folder (same files as the LRB's)."""
    from sdlscape.bench.truth import atomic_folder, check_new_folder, write_truth_files

    if n_train < 1 or n_eval < 1:
        raise InputError(f"--samples and the held-out size must be >= 1, got {n_train}, {n_eval}")
    check_new_folder(out)
    truth, x, a = synth_truth(spec, n_train, n_eval, seed)
    atomic_folder(out, lambda tmp: write_truth_files(tmp, truth, x, x, a, record))
    return {"out": str(out), "n": truth.n, "d_in": truth.d_in, "d_out": truth.d_out, "n_samples": n_train,
            "n_eval": n_eval, "tau": truth.tau, "anchors": 0, "source": truth.source,
            "hierarchy_parents": len(truth.hierarchy)}
