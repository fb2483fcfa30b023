"""The landscape of a small instance: every activation-pattern piece enumerated, solved by ACS and classified.

Pieces (Def. 3.1, eq. 13): for relu / jumprelu the latents are independent, so a piece is a multiset
of single-latent cells (solvers/arrangement.py); for topk / topk_relu the joint patterns are
enumerated with LP pruning. Patterns equal up to a relabelling of latents have the same loss
landscape, so one canonical representative is solved and its multiplicity (the number of labelled
patterns it stands for) recorded.

Classes: "global" (a certified partial optimum of ACS whose L~ (eq. 11) is within tol of the least
value found over all pieces), "spurious" (a partial optimum inside its region with a higher L~),
"leaves_region" (every start converged onto the region's boundary, pressing toward a neighbour),
"inconclusive" (anything else, with the reason).

What is certified: an ACS value is L~ at a point of the region, an UPPER bound on the piece's
minimum. Each piece also gets a LOWER bound valid over its whole (closed, margin-free) region:
features whose selected latent set S_d is the same share that set's decoder columns, so their
reconstructions lie in one |S_d|-dimensional subspace; giving every group its own copy of the
columns (a relaxation) yields sum_groups [sum_d M_d |w_r^d|^2 - (sum of the top |S| eigenvalues of
sum_d M_d w_r^d w_r^d^T)]. gap = upper - lower; a piece is certified when gap <= tol. The global
value is certified as the minimum of L~ (over encoders whose pattern has margin >= eps) only when it
is within tol of the least lower bound over all pieces.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import Outcome, PieceClass
from sdlscape.solvers.arrangement import (
    DEFAULT_MAX_CELLS,
    enumerate_joint_patterns,
    latent_cells,
)
from sdlscape.solvers.fanout import run_tasks
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_loss
from sdlscape.theory.patterns import Pattern, absorptions
from sdlscape.theory.piece import Piece

DEFAULT_MAX_PIECES = 2000
DEFAULT_EPS = numerics.MARGIN_EPS
CLASSES = tuple(PieceClass)
CHECKPOINT_VERSION = 2


@dataclass(frozen=True)
class PieceSpec:
    """One piece to solve: a canonical pattern, how many labelled patterns it stands for, a witness W_E."""

    pattern: Pattern
    multiplicity: int
    witness: np.ndarray | None = None


@dataclass(frozen=True)
class PieceCount:
    """The enumeration before solving: cells per latent, pieces, and what it cost."""

    cells_per_latent: int
    pieces: list[PieceSpec]
    lp_calls: int
    seconds: float
    method: str
    detail: dict = field(default_factory=dict)

    @property
    def n_pieces(self) -> int:
        return len(self.pieces)


def multiplicity(pattern: Pattern) -> int:
    """Labelled patterns in the relabelling class of `pattern`: n_latents! / prod(repeats of a set)!."""
    reps = Counter(pattern.sets)
    return math.factorial(pattern.n_latents) // math.prod(math.factorial(c) for c in reps.values())


def count_pieces(inst: Instance, eps: float = DEFAULT_EPS, max_pieces: int = DEFAULT_MAX_PIECES,
                 max_cells: int = DEFAULT_MAX_CELLS) -> PieceCount:
    """Enumerate the pieces of an instance (no solving); InputError if there are more than max_pieces."""
    if max_pieces < 1:
        raise InputError(f"max_pieces must be >= 1, got {max_pieces}")
    t0 = time.perf_counter()
    nl = inst.n_latents
    if inst.activation.separable:
        ce = latent_cells(inst, eps, max_cells=max_cells)
        c = len(ce.cells)
        total = math.comb(c + nl - 1, nl)
        if total > max_pieces:
            raise InputError(f"instance {inst.name or '(unnamed)'} has {total} pieces ({c} cells per latent, "
                             f"{nl} latents), more than --max-pieces {max_pieces}; not starting")
        specs = []
        for combo in _multisets(range(c), nl):
            pat = Pattern(tuple(ce.cells[j] for j in combo), inst.n).canonical()
            W = np.stack([ce.witnesses[j] for j in _canonical_order(ce, combo)])
            specs.append(PieceSpec(pat, multiplicity(pat), W))
        return PieceCount(c, specs, ce.lp_calls, time.perf_counter() - t0, ce.method,
                          {"regions": len(ce.chambers), "cells_too_thin_for_eps": [sorted(F) for F in ce.dropped_thin],
                           "cells": [sorted(F) for F in ce.cells]})
    try:
        je = enumerate_joint_patterns(inst, eps, max_patterns=max_pieces)
    except InputError as exc:
        raise InputError(f"instance {inst.name or '(unnamed)'}: {exc} (more than --max-pieces {max_pieces}); "
                         "not starting") from None
    cells = {s for p in je.patterns for s in p.sets}
    specs = [PieceSpec(p, multiplicity(p), W) for p, W in zip(je.patterns, je.witnesses)]
    return PieceCount(len(cells), specs, je.lp_calls, time.perf_counter() - t0, "joint-dfs-lp",
                      {"search_nodes": je.nodes, "cells": sorted(sorted(F) for F in cells)})


def _multisets(items: Iterable[int], r: int) -> Iterator[tuple[int, ...]]:
    return itertools.combinations_with_replacement(list(items), r)


def _canonical_order(ce, combo: tuple[int, ...]) -> list[int]:
    """The cell indices of combo in the latent order Pattern.canonical() uses."""
    return sorted(combo, key=lambda j: (len(ce.cells[j]), sorted(ce.cells[j])))


def enumerate_pieces(inst: Instance, eps: float = DEFAULT_EPS, max_pieces: int = DEFAULT_MAX_PIECES
                     ) -> list[PieceSpec]:
    """Every piece of the instance up to latent relabelling (canonical patterns with multiplicities)."""
    return count_pieces(inst, eps, max_pieces).pieces


# ---------------------------------------------------------------------------------------------
# Bounds and annotations


def piece_lower_bound(inst: Instance, pattern: Pattern) -> float:
    """The decoupled low-rank lower bound on min L~ over the piece (module docstring)."""
    mask = pattern.mask
    groups: dict[tuple[int, ...], list[int]] = {}
    for d in range(inst.n):
        groups.setdefault(tuple(np.flatnonzero(mask[:, d])), []).append(d)
    total = 0.0
    for S, ds in groups.items():
        R = inst.W_r[:, ds] * np.sqrt(inst.M[ds])
        energy = float(np.sum(R * R))
        r = len(S)
        if r:
            eig = np.linalg.eigvalsh(R @ R.T)[::-1]
            energy -= float(np.sum(eig[:r]))
        total += max(energy, 0.0)
    return total


def recovery(inst: Instance, W_E: np.ndarray | None, W_D: np.ndarray | None) -> dict[str, Any] | None:
    """Best |cos| of encoder rows with w_p^d and of decoder columns with w_r^d, per feature and per latent."""
    if W_E is None or W_D is None:
        return None

    def cos(A: np.ndarray, B: np.ndarray) -> np.ndarray:   # rows of A vs columns of B
        na = np.linalg.norm(A, axis=1, keepdims=True)
        C = np.abs(A @ B) / np.where(na > 1e-12, na, np.inf) / np.linalg.norm(B, axis=0)
        return C

    CE = cos(np.asarray(W_E), inst.W_p)
    CD = cos(np.asarray(W_D).T, inst.W_r)
    return {"encoder_per_feature": CE.max(axis=0).tolist(), "decoder_per_feature": CD.max(axis=0).tolist(),
            "encoder_per_latent": CE.max(axis=1).tolist(), "decoder_per_latent": CD.max(axis=1).tolist(),
            "encoder_mean": float(CE.max(axis=0).mean()), "decoder_mean": float(CD.max(axis=0).mean()),
            "encoder_min": float(CE.max(axis=0).min()), "decoder_min": float(CD.max(axis=0).min())}


def annotations(inst: Instance, pattern: Pattern) -> dict[str, Any]:
    return {"polysemantic": pattern.polysemantic, "dead_latents": list(pattern.dead_latents),
            "partition": pattern.is_partition, "uncovered_features": list(pattern.uncovered_features),
            "absorptions": absorptions(pattern, inst.parents) if inst.parents else []}


# ---------------------------------------------------------------------------------------------
# Solving one piece (runs in worker processes: plain data in, plain data out)


def solve_one(task: dict[str, Any]) -> dict[str, Any]:
    """Solve one piece with ACS (solve_piece) from task = {instance, pattern, starts, seed, eps}; a dict back."""
    from sdlscape.solvers.acs import solve_piece

    inst = Instance.from_dict(task["instance"])
    pattern = Pattern.parse(task["pattern"], inst.n, inst.n_latents)
    t0 = time.perf_counter()
    try:
        piece = Piece(inst, pattern, task["eps"], inst.activation.linear_reading)
        pr = solve_piece(piece, starts=task["starts"], seed=task["seed"], max_iter=task.get("max_iter", 500))
    except Exception as exc:  # noqa: BLE001 - a solver failure is an inconclusive piece, with the reason
        return {"pattern": pattern.to_json(), "outcome": Outcome.INCONCLUSIVE, "realizable": None, "best_loss": None,
                "starts": [], "error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - t0}
    starts = []
    for s in pr.starts:
        starts.append({"outcome": s.outcome, "loss": s.loss, "iterations": s.iterations,
                       "toward": None if s.toward is None else s.toward.canonical().to_json(),
                       "hessian": None if not s.hessian else s.hessian.get("classification"),
                       "reason": s.reason,
                       "W_E": None if s.W_E is None else np.asarray(s.W_E).tolist(),
                       "W_D": None if s.W_D is None else np.asarray(s.W_D).tolist()})
    cert = None
    if task.get("certify", True):
        from sdlscape.solvers.certify import certify_piece

        cert = certify_piece(piece, rtol=task.get("rtol", numerics.CERTIFY_RTOL),
                             time_limit=task.get("certify_time_limit", 30.0)).to_dict()
    return {"pattern": pattern.to_json(), "outcome": pr.outcome, "realizable": pr.realizable,
            "realizability_status": pr.realizability.status, "best_loss": pr.best_loss, "starts": starts,
            "certificate": cert, "error": None, "seconds": time.perf_counter() - t0}


# ---------------------------------------------------------------------------------------------
# Classification


@dataclass
class LandscapeResult:
    """All pieces, classified; to_dict() is the "landscape" result-file contract."""

    summary: dict[str, Any]
    pieces: list[dict[str, Any]]
    provenance: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {"summary": self.summary, "pieces": self.pieces}
        if self.provenance:
            out["provenance"] = self.provenance
        return out


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _verified_upper(inst: Instance, pattern: Pattern, starts: list[dict], eps: float) -> float | None:
    """The least L~ over the starts' final points that lie in the piece's margin-tightened region (re-checked
    here with no tolerance: a point just outside is not admitted, however large W_E is)."""
    piece = Piece(inst, pattern, eps, inst.activation.linear_reading)
    reg, mask = piece.region, piece.loss_mask
    vals = []
    for s in starts:
        if s.get("W_E") is None or s.get("W_D") is None:
            continue
        W_E, W_D = np.asarray(s["W_E"], dtype=float), np.asarray(s["W_D"], dtype=float)
        if reg.contains(W_E, tol=0.0) and piece.reads_back(W_E):
            vals.append(approx_loss(inst, W_D, W_E, mask))
    return min(vals) if vals else None


def _piece_value(cert: dict | None, upper: float | None) -> float | None:
    """The least L~ reached at an interior point of the piece: the certifier's value or an ACS upper bound."""
    vals = [v for v in ((cert or {}).get("value"), upper) if _finite(v)]
    return min(vals) if vals else None


def classify(inst: Instance, specs: list[PieceSpec], raw: dict[str, dict], tol: float,
             eps: float = DEFAULT_EPS) -> tuple[list[dict], dict]:
    """Turn solved pieces into classified piece records and the summary numbers.

    A piece's `loss` is its value: the certified infimum (solvers/certify: L~ at an interior point, within
    rtol of a valid lower bound; boundary infima included) where the certifier ran, else the least ACS
    value at a point of the region. `lower_bound` is the larger of the certifier's and the decoupled
    low-rank bound. global_value = least piece value over all pieces; global_certified = it is within
    tol (relative, plus absolute floor) of the least piece lower bound. Class: global (value within tol of
    the global value), spurious (ACS certified a partial optimum in a non-global piece), leaves_region,
    inconclusive. `acs_excess` = ACS partial-optimum loss minus the piece's certified infimum (> 0: the
    partial optimum is not the piece minimum). `infimum_on_boundary` is false when an ACS partial optimum
    (a point inside the margin region) attains the certified infimum within tol: the infimum is attained
    inside, even where the certifier's own minimiser sits on a face (`boundary_face` still names that face).
    """
    vals, certs, uppers = {}, {}, {}
    for spec in specs:
        key = str(spec.pattern)
        r = raw[key]
        certs[key] = r.get("certificate")
        uppers[key] = _verified_upper(inst, spec.pattern, r["starts"], eps)
        vals[key] = _piece_value(certs[key], uppers[key])
    finite = [v for v in vals.values() if v is not None]
    global_value = min(finite) if finite else None
    pieces = []
    for spec in specs:
        key = str(spec.pattern)
        r, cert, upper = raw[key], certs[key], uppers[key]
        starts = r["starts"]
        outcomes = [s["outcome"] for s in starts]
        lower = max(piece_lower_bound(inst, spec.pattern), (cert or {}).get("lower_bound") or 0.0)
        value = vals[key]
        po = [s for s in starts if s["outcome"] == Outcome.PARTIAL_OPTIMUM and _finite(s["loss"])]
        acs_loss = min(s["loss"] for s in po) if po else None
        is_global = value is not None and global_value is not None and value <= global_value + tol * max(1.0, abs(global_value))
        if is_global:
            cls = PieceClass.GLOBAL
        elif po:
            cls = PieceClass.SPURIOUS
        elif starts and all(o == Outcome.LEAVES_REGION for o in outcomes):
            cls = PieceClass.LEAVES_REGION
        else:
            cls = PieceClass.INCONCLUSIVE
        if po:
            best = min(po, key=lambda s: s["loss"])
            reason = f"{outcomes.count('partial_optimum')} of {len(starts)} starts certified a partial optimum"
        else:
            cands = [s for s in starts if _finite(s["loss"])]
            best = min(cands, key=lambda s: s["loss"]) if cands else None
            if starts and all(o == Outcome.LEAVES_REGION for o in outcomes):
                reason = f"all {len(starts)} starts converged onto the region boundary and press outward"
            else:
                reason = r.get("error") or "; ".join(sorted({s["reason"] for s in starts
                                                              if s["outcome"] == Outcome.INCONCLUSIVE})) \
                    or f"start outcomes {dict(Counter(outcomes))}"
        gap = None if value is None else max(value - lower, 0.0)
        certified = gap is not None and gap <= tol * max(1.0, abs(value))
        attained_inside = (certified and acs_loss is not None
                           and acs_loss <= value + tol * max(1.0, abs(value)))
        towards = sorted({json.dumps(s["toward"]) for s in starts if s["outcome"] == Outcome.LEAVES_REGION and s["toward"]})
        mn = (cert or {}).get("minimiser")
        W_E = mn["W_E"] if mn else (None if best is None else best["W_E"])
        W_D = mn["W_D"] if mn else (None if best is None else best["W_D"])
        rec = recovery(inst, None if W_E is None else np.array(W_E), None if W_D is None else np.array(W_D))
        pieces.append({
            "pattern": spec.pattern.to_json(), "key": key, "multiplicity": spec.multiplicity, "class": cls,
            "loss": value, "acs_loss": acs_loss, "upper_bound": upper, "lower_bound": lower, "gap": gap,
            "certified": certified,
            "acs_excess": None if acs_loss is None or value is None or not certified else acs_loss - value,
            "infimum_on_boundary": (None if cert is None or cert.get("value") is None
                                    else False if attained_inside else cert["infimum_on_boundary"]),
            "infimum_attained_inside": attained_inside,
            "boundary_face": None if cert is None else cert["boundary_face"],
            "certificate": None if cert is None else {k: cert[k] for k in (
                "value", "lower_bound", "certified", "status", "reason", "closure_value", "rank_drop", "nodes",
                "seconds", "rtol")},
            "upper_bound_is": ("the piece infimum (value = lower bound within tol)" if certified else
                               "an upper bound only (L~ at a point of the region)" if value is not None else
                               "missing: no point of the region was valued"),
            "outcome": r["outcome"], "start_outcomes": dict(Counter(outcomes)), "reason": reason,
            "toward": [json.loads(t) for t in towards],
            "hessian": None if best is None else best.get("hessian"),
            "W_E": W_E, "W_D": W_D, **annotations(inst, spec.pattern), "recovery": rec,
            "starts": [{k: s[k] for k in ("outcome", "loss", "toward", "hessian", "iterations", "reason")}
                       for s in starts],
            "error": r.get("error"), "seconds": r.get("seconds"),
        })
    counts = {c.value: sum(p["class"] == c for p in pieces) for c in CLASSES}
    weighted = {c.value: sum(p["multiplicity"] for p in pieces if p["class"] == c) for c in CLASSES}
    lbs = [p["lower_bound"] for p in pieces]
    glb = min(lbs) if lbs else None
    certified = global_value is not None and glb is not None and global_value - glb <= tol * max(1.0, abs(global_value))
    glob = [p for p in pieces if p["class"] == PieceClass.GLOBAL and p["recovery"]]
    best_rec = None
    if glob:
        b = max(glob, key=lambda p: (p["recovery"]["encoder_mean"] + p["recovery"]["decoder_mean"]))
        best_rec = {"pattern": b["pattern"], "encoder_mean": b["recovery"]["encoder_mean"],
                    "decoder_mean": b["recovery"]["decoder_mean"], "encoder_min": b["recovery"]["encoder_min"],
                    "decoder_min": b["recovery"]["decoder_min"]}
    spurious_not_min = [p for p in pieces if p["acs_excess"] is not None and p["acs_excess"] > tol * max(1.0, p["loss"])]
    summary = {"global_value": global_value, "global_lower_bound": glb, "global_certified": certified,
               "global_rests_on": (
                   "least piece value over all enumerated pieces (certified infima, boundary limits included, "
                   f"else ACS values); the least piece lower bound is {glb}; "
                   + ("they agree within tol: this is the minimum of L~" if certified else
                      "they differ by more than tol, so the global value is only an upper bound")
                   if global_value is not None else "no piece was valued"),
               "counts": counts, "counts_weighted": weighted,
               "upper_bound_only": sum(1 for p in pieces if p["loss"] is not None and not p["certified"]),
               "certified_pieces": sum(1 for p in pieces if p["certified"]),
               "boundary_infima": sum(1 for p in pieces if p["infimum_on_boundary"]),
               "partial_optima_above_piece_minimum": len(spurious_not_min),
               "best_recovery": best_rec,
               "spurious_polysemantic": sum(1 for p in pieces if p["class"] == PieceClass.SPURIOUS and p["polysemantic"]),
               "spurious_by_hessian": dict(Counter(str(p["hessian"]) for p in pieces if p["class"] == PieceClass.SPURIOUS))}
    return pieces, summary


# ---------------------------------------------------------------------------------------------
# Running: checkpoint, pool, Dask


def settings_key(inst: Instance, starts: int, seed: int, eps: float, max_iter: int = 500) -> str:
    """Hash of the instance and the solve settings: a checkpoint is reused only under the same key."""
    blob = json.dumps({"instance": inst.to_dict(), "starts": starts, "seed": seed, "eps": eps, "max_iter": max_iter,
                       "version": CHECKPOINT_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def checkpoint_path(json_path: str | os.PathLike) -> Path:
    p = Path(json_path)
    return p.with_name(p.name + ".checkpoint.json")


def _load_checkpoint(path: Path | None, key: str) -> dict[str, dict]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("pieces"), dict):
        return {}
    return data["pieces"]


def _save_checkpoint(path: Path | None, key: str, done: dict[str, dict]) -> None:
    if path is None:
        return
    from sdlscape.storage import write_json

    write_json(path, {"key": key, "version": CHECKPOINT_VERSION, "pieces": done})


def map_landscape(inst: Instance, starts: int = 4, seed: int = 0, eps: float = DEFAULT_EPS, workers: int = 1,
                  scheduler: str | None = None, max_pieces: int = DEFAULT_MAX_PIECES,
                  checkpoint: str | os.PathLike | None = None, progress: bool = False, tol: float = 1e-6,
                  on_count: Callable[[PieceCount], None] | None = None, max_iter: int = 500,
                  keep_checkpoint: bool = False, certify: bool = True,
                  certify_time_limit: float = 30.0) -> LandscapeResult:
    """Enumerate, solve (ACS, `starts` starts per piece) and classify every piece of a small instance.

    checkpoint: a file of solved pieces (keyed by instance hash + settings), written atomically as
    pieces finish and read back on a rerun, so an interrupted run resumes; deleted when the run finishes
    unless keep_checkpoint. certify: also run the certifier on every piece (solvers/certify,
    certify_time_limit seconds of branch and bound per piece).
    """
    if int(starts) != starts or starts < 1:
        raise InputError(f"starts must be a positive integer, got {starts!r}")
    if int(workers) != workers or workers < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    if eps <= 0:
        raise InputError(f"the margin eps must be positive, got {eps}")
    t0 = time.perf_counter()
    pc = count_pieces(inst, eps, max_pieces)
    if on_count is not None:
        on_count(pc)
    if scheduler is not None:
        try:
            import dask.distributed  # noqa: F401  (the optional extra; used by solvers/fanout)
        except ImportError:
            raise InputError("--scheduler needs Dask distributed: pip install 'sdlscape[dask]'") from None
    key = settings_key(inst, starts, seed, eps, max_iter) + ("c" if certify else "")
    ck = Path(checkpoint) if checkpoint is not None else None
    done = _load_checkpoint(ck, key)
    resumed = sum(1 for s in pc.pieces if str(s.pattern) in done)
    inst_d = inst.to_dict()
    tasks = [{"instance": inst_d, "pattern": s.pattern.to_json(), "starts": int(starts), "seed": int(seed),
              "eps": float(eps), "max_iter": int(max_iter), "certify": bool(certify),
              "certify_time_limit": float(certify_time_limit)} for s in pc.pieces if str(s.pattern) not in done]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(pc.pieces), initial=resumed, desc=f"landscape {inst.name or ''}".strip(),
                   unit="piece", file=__import__("sys").stderr)
    runner = run_tasks(solve_one, tasks, workers, scheduler)
    last = time.monotonic()
    try:
        for r in runner:
            done[str(Pattern.parse(r["pattern"], inst.n, inst.n_latents).canonical())] = r
            if bar is not None:
                bar.update(1)
            if time.monotonic() - last > 2.0:
                _save_checkpoint(ck, key, done)
                last = time.monotonic()
    finally:
        if tasks:
            _save_checkpoint(ck, key, done)
        if bar is not None:
            bar.close()
    pieces, summary = classify(inst, pc.pieces, done, tol, eps)
    if ck is not None and ck.exists() and not keep_checkpoint:
        ck.unlink()                                   # the run finished: the result replaces the checkpoint
    pieces.sort(key=lambda p: (CLASSES.index(p["class"]), p["loss"] if p["loss"] is not None else math.inf,
                               p["key"]))
    summary = {"instance": inst.name, "activation": inst.activation.to_dict(),
               "reading": inst.activation.linear_reading.value, "n": inst.n, "n_p": inst.n_p,
               "n_r": inst.n_r, "n_latents": inst.n_latents, "cells_per_latent": pc.cells_per_latent,
               "pieces": pc.n_pieces, "labelled_patterns": sum(s.multiplicity for s in pc.pieces),
               **summary,
               "enumeration": {"method": pc.method, "lp_calls": pc.lp_calls, "seconds": pc.seconds, **pc.detail},
               "starts": int(starts), "seed": int(seed), "eps": float(eps), "max_iter": int(max_iter), "tolerance": tol,
               "resumed_pieces": resumed, "seconds": time.perf_counter() - t0,
               "certification": ("loss = the piece's value: the certifier's infimum over the open region "
                                 "(boundary limits included; L~ at an interior point, interval-checked), else "
                                 "the least ACS value in the region; lower_bound = max(certifier bound, "
                                 "decoupled low-rank relaxation); certified = gap <= tolerance * max(1, loss)")}
    return LandscapeResult(summary, pieces)
