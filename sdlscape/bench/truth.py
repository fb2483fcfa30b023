"""Ground truth of a bench as data: the true features, anchors, hierarchy, law and samples (files in, files out).

A :class:`Truth` is everything needed to score a dictionary trained elsewhere (bench/evaluate.py):

* ``W_in`` (d_in x n) and ``W_out`` (d_out x n): the true features as unit COLUMNS, as the encoder sees
  them (W_p, stacked over sources for a crosscoder) and as the decoder writes them (W_r; = W_in for an SAE).
* ``anchors``: the indices of the anchored features, left out of every recovery metric (as the bench does
  for both its plain and its anchored rows, bench/experiments.py).
* ``hierarchy``: ``[{"parent": p, "children": [c, ...]}, ...]`` over feature indices (Def. 3.2); empty for
  the Linear Representation Bench, whose features are independent.
* ``law``: the coefficient law (p_active, c_min, beta), ``tau`` and ``paper``: the table row's tau and the
  paper's numbers at it.
* held-out samples ``eval_x_in`` / ``eval_x_out`` with their true coefficients ``eval_codes`` (N x n).

``bench data`` writes a Truth plus the bench's training samples to a folder (:func:`write_bench_data`,
all or nothing: a temporary sibling folder renamed into place); ``bench evaluate --truth DIR`` reads it
back (:func:`load_truth`).  ``--table T --scale S`` rebuilds the same Truth in memory
(:func:`truth_from_table`); both use the bench's own generator (lrb.make_bench, Bench.sample's seeds).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from sdlscape.errors import InputError
from sdlscape.theory.instance_types import axis_length

EVAL_SEED_OFFSET = 999_983      # bench/experiments.py train_and_measure: bench.sample(n_eval, seed + 999_983)
FILES = ("x_in.npy", "x_out.npy", "W_p.npy", "W_r.npy", "anchors.npy", "hierarchy.json", "law.json",
         "codes.npz", "eval_x_in.npy", "eval_x_out.npy", "eval_codes.npz", "bench.json")


@dataclass
class Truth:
    """The ground truth one dictionary is scored against (see the module docstring)."""

    W_in: np.ndarray
    W_out: np.ndarray
    anchors: np.ndarray
    eval_x_in: np.ndarray
    eval_x_out: np.ndarray
    eval_codes: np.ndarray
    tau: float = 0.9
    hierarchy: list = field(default_factory=list)
    law: dict = field(default_factory=dict)
    paper: dict = field(default_factory=dict)
    source: dict = field(default_factory=dict)

    n = axis_length("W_in", 1, "number of features")
    d_in = axis_length("W_in", 0, "input dimension")
    d_out = axis_length("W_out", 0, "target dimension")


# ---------------------------------------------------------------- a table row at a scale

def select_row(table: str, method: str | None = None, anchoring: bool = False, row: int | None = None):
    """The table row a bench is made for: ``row`` (index), else the first row of ``method`` with that
    anchoring (default method: topk when the table has it, else the table's first row's)."""
    from sdlscape.bench.tables import table_rows

    rows = table_rows(table)
    if row is not None:
        if not 0 <= row < len(rows):
            raise InputError(f"--row must be in [0, {len(rows) - 1}] for {table}, got {row}")
        return row, rows[row]
    names = list(dict.fromkeys(r.method for r in rows))
    if method is None:
        method = "topk" if "topk" in names else names[0]
    for i, r in enumerate(rows):
        if r.method == method and r.anchoring == anchoring:
            return i, r
    raise InputError(f"{table} has no {'anchored ' if anchoring else ''}row for method {method!r}; "
                     f"its methods are {', '.join(names)}")


def resolved_row(table: str, scale: str, seed: int = 0, method: str | None = None, anchoring: bool = False,
                 row: int | None = None):
    """(row index, Row, experiments.Resolved) of the selected row at the scale."""
    from sdlscape.bench.experiments import SCALES, resolve

    if scale not in SCALES:
        raise InputError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    i, r = select_row(table, method, anchoring, row)
    return i, r, resolve(r, SCALES[scale], "cpu", seed)


def _describe(table: str, scale: str, seed: int, i: int, r, res) -> tuple[dict, dict, dict]:
    from dataclasses import asdict

    b = res.bench
    law = {"p_active": b.p_active, "c_min": b.c_min, "beta": b.beta, "max_interference": b.max_interference,
           "kind": b.kind, "magnitudes": "x_d = m_d (c_min + Exp(mean beta)), m_d ~ Bernoulli(p_active)"}
    paper = {"paper_M_GT": r.paper_M_GT, "paper_M_IP": r.paper_M_IP, "paper_note": r.paper_note}
    source = {"table": table, "scale": scale, "seed": seed, "row": i, "method": r.method, "anchoring": r.anchoring,
              "tau": r.tau, "bench_config": asdict(b), "settings": res.settings, "n_eval": res.n_eval,
              "eval_seed": b.seed + EVAL_SEED_OFFSET, "anchor_seed": res.anchor_seed}
    return law, paper, source


def _eval_split(bench, n_eval: int, seed: int):
    """Held-out (x_in, x_out, codes): the draw of Bench.sample(n_eval, seed), with its coefficients kept."""
    import torch

    from sdlscape.bench.lrb import sample_coefficients

    c = bench.config
    X = sample_coefficients(n_eval, c.n, c.p_active, c.c_min, c.beta, seed, "cpu")
    with torch.no_grad():
        x_in = X @ bench.truth_in.cpu().t()
        x_out = x_in if bench.truth_out is bench.truth_in else X @ bench.truth_out.cpu().t()
    return x_in.numpy(), x_out.numpy(), X.numpy()


def truth_from_table(table: str, scale: str, seed: int = 0, method: str | None = None, anchoring: bool = False,
                     row: int | None = None, with_training: bool = False):
    """The Truth of a table row's bench at a scale (and the Bench itself when with_training)."""
    from sdlscape.bench.experiments import anchor_indices
    from sdlscape.bench.lrb import make_bench

    i, r, res = resolved_row(table, scale, seed, method, anchoring, row)
    config = res.bench if with_training else replace(res.bench, n_samples=min(res.bench.n_samples, 2048))
    bench = make_bench(config)      # dictionaries depend on the seed only, not on n_samples
    x_in, x_out, X = _eval_split(bench, res.n_eval, res.bench.seed + EVAL_SEED_OFFSET)
    law, paper, source = _describe(table, scale, seed, i, r, res)
    from sdlscape.bench.synth import max_interference

    source["interference"] = max_interference(bench.truth_in.cpu().numpy())
    truth = Truth(W_in=bench.truth_in.cpu().numpy(), W_out=bench.truth_out.cpu().numpy(),
                  anchors=anchor_indices(res.bench.n, res.n_anchors, res.anchor_seed), eval_x_in=x_in,
                  eval_x_out=x_out, eval_codes=X, tau=r.tau, hierarchy=[], law=law, paper=paper, source=source)
    return (truth, bench) if with_training else truth


# ---------------------------------------------------------------- files

def _save_sparse(path: Path, X: np.ndarray) -> None:
    rows, cols = np.nonzero(X)
    np.savez(path, shape=np.asarray(X.shape), rows=rows.astype(np.int64), cols=cols.astype(np.int64),
             values=X[rows, cols].astype(np.float32))


def _load_sparse(path: Path) -> np.ndarray:
    with np.load(path) as z:
        X = np.zeros(tuple(int(s) for s in z["shape"]), dtype=np.float32)
        X[z["rows"], z["cols"]] = z["values"]
    return X


def write_truth_files(folder: Path, truth: Truth, x_in=None, x_out=None, codes=None, record: dict | None = None):
    """Write a Truth (and optional training samples) into an existing, empty folder."""
    folder = Path(folder)
    if x_in is not None:
        np.save(folder / "x_in.npy", np.asarray(x_in, dtype=np.float32))
        np.save(folder / "x_out.npy", np.asarray(x_out if x_out is not None else x_in, dtype=np.float32))
    if codes is not None:
        _save_sparse(folder / "codes.npz", np.asarray(codes))
    np.save(folder / "W_p.npy", np.asarray(truth.W_in, dtype=np.float32))
    np.save(folder / "W_r.npy", np.asarray(truth.W_out, dtype=np.float32))
    np.save(folder / "anchors.npy", np.asarray(truth.anchors, dtype=np.int64))
    np.save(folder / "eval_x_in.npy", np.asarray(truth.eval_x_in, dtype=np.float32))
    np.save(folder / "eval_x_out.npy", np.asarray(truth.eval_x_out, dtype=np.float32))
    _save_sparse(folder / "eval_codes.npz", np.asarray(truth.eval_codes))
    (folder / "hierarchy.json").write_text(json.dumps(truth.hierarchy, indent=1) + "\n")
    (folder / "law.json").write_text(json.dumps(truth.law, indent=1) + "\n")
    from sdlscape.storage import to_jsonable

    meta = {"format": "sdlscape-bench-data/1", "tau": truth.tau, "paper": truth.paper, "source": truth.source,
            "shapes": {"W_p": list(truth.W_in.shape), "W_r": list(truth.W_out.shape),
                       "x_in": None if x_in is None else list(np.shape(x_in)),
                       "eval_x_in": list(truth.eval_x_in.shape)},
            "conventions": {"W_p": "n_p x n, true features as unit columns (x_in = codes @ W_p.T)",
                            "W_r": "n_r x n, the features the decoder should write (x_out = codes @ W_r.T)",
                            "anchors": "indices of anchored features, excluded from recovery metrics",
                            "hierarchy": "[{parent: feature, children: [features]}] (Def. 3.2)",
                            "codes.npz": "true coefficients, sparse: shape, rows, cols, values"},
            **(record or {})}
    (folder / "bench.json").write_text(json.dumps(to_jsonable(meta), indent=1) + "\n")


def check_new_folder(out) -> Path:
    """``out`` does not exist or is an empty folder (InputError otherwise): checked before any work."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"--out {str(out)!r} exists and is not an empty folder")
    return out


def atomic_folder(out: str | os.PathLike, fill) -> Path:
    """Create folder ``out`` all at once: ``fill(tmp)`` writes into a temporary sibling, renamed into place.

    ``out`` must not exist or be an empty folder (InputError otherwise, before anything is written).
    """
    out = check_new_folder(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        fill(tmp)
        os.chmod(tmp, 0o755)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_bench_data(out, table: str, scale: str, seed: int = 0, method: str | None = None,
                     anchoring: bool = False, row: int | None = None, record: dict | None = None) -> dict:
    """``bench data``: the row's bench (training samples, truth, held-out split) as files in ``out``."""
    check_new_folder(out)
    truth, bench = truth_from_table(table, scale, seed, method, anchoring, row, with_training=True)
    c = bench.config
    from sdlscape.bench.lrb import sample_coefficients

    codes = []                      # the training coefficients, redrawn with make_bench's chunk seeds
    for start in range(0, c.n_samples, 8192):
        m = min(8192, c.n_samples - start)
        codes.append(sample_coefficients(m, c.n, c.p_active, c.c_min, c.beta, c.seed * 1_000_003 + start + 7).numpy())
    X = np.concatenate(codes)
    atomic_folder(out, lambda tmp: write_truth_files(tmp, truth, bench.x_in.numpy(), bench.x_out.numpy(), X,
                                                     {**(record or {}), "checks": bench.checks}))
    return {"out": str(out), "n": truth.n, "d_in": truth.d_in, "d_out": truth.d_out, "n_samples": c.n_samples,
            "n_eval": truth.eval_x_in.shape[0], "tau": truth.tau, "anchors": int(truth.anchors.size),
            "source": truth.source}


def load_truth(folder) -> Truth:
    """Read a folder written by ``bench data`` (or any folder with the same files): InputError if malformed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--truth {str(folder)!r} is not a folder (write one with `sdlscape bench data`)")
    need = ("W_p.npy", "eval_x_in.npy", "bench.json")
    missing = [f for f in need if not (folder / f).exists()]
    if missing:
        raise InputError(f"--truth {str(folder)!r} lacks {', '.join(missing)} (write one with `sdlscape bench data`)")
    try:
        meta = json.loads((folder / "bench.json").read_text())
        W_in = np.load(folder / "W_p.npy")
        W_out = np.load(folder / "W_r.npy") if (folder / "W_r.npy").exists() else W_in
        x_in = np.load(folder / "eval_x_in.npy")
        x_out = np.load(folder / "eval_x_out.npy") if (folder / "eval_x_out.npy").exists() else x_in
        codes = _load_sparse(folder / "eval_codes.npz") if (folder / "eval_codes.npz").exists() else None
        anchors = np.load(folder / "anchors.npy") if (folder / "anchors.npy").exists() else np.zeros(0, int)
        hierarchy = json.loads((folder / "hierarchy.json").read_text()) if (folder / "hierarchy.json").exists() else []
        law = json.loads((folder / "law.json").read_text()) if (folder / "law.json").exists() else {}
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"--truth {str(folder)!r}: cannot read its files ({exc})") from None
    if W_in.ndim != 2 or W_out.ndim != 2 or W_in.shape[1] != W_out.shape[1]:
        raise InputError(f"--truth {str(folder)!r}: W_p and W_r must be matrices with one column per feature, "
                         f"got {W_in.shape} and {W_out.shape}")
    if x_in.ndim != 2 or x_in.shape[1] != W_in.shape[0] or x_out.shape != (x_in.shape[0], W_out.shape[0]):
        raise InputError(f"--truth {str(folder)!r}: eval samples {x_in.shape} do not match W_p {W_in.shape}")
    if codes is not None and codes.shape != (x_in.shape[0], W_in.shape[1]):
        raise InputError(f"--truth {str(folder)!r}: eval_codes {codes.shape} do not match the samples and W_p")
    n = W_in.shape[1]
    anchors = np.asarray(anchors, dtype=np.int64).ravel()
    if anchors.size and (anchors.min() < 0 or anchors.max() >= n):
        raise InputError(f"--truth {str(folder)!r}: anchors name features outside 0..{n - 1}")
    for g in hierarchy:
        ids = [g.get("parent")] + list(g.get("children", [])) if isinstance(g, dict) else [None]
        if any(not isinstance(d, int) or not 0 <= d < n for d in ids):
            raise InputError(f"--truth {str(folder)!r}: hierarchy entries must be {{parent, children}} "
                             f"with feature indices in 0..{n - 1}, got {g!r}")
    return Truth(W_in=W_in, W_out=W_out, anchors=anchors, eval_x_in=x_in, eval_x_out=x_out,
                 eval_codes=codes if codes is not None else np.zeros((x_in.shape[0], n), np.float32),
                 tau=float(meta.get("tau", 0.9)), hierarchy=hierarchy, law=law, paper=meta.get("paper", {}),
                 source={**meta.get("source", {}), "folder": str(folder), "codes_known": codes is not None})
