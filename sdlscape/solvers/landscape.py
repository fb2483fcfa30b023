"""The landscape of a small instance: every activation-pattern piece enumerated, solved by ACS and classified.

Enumeration: solvers/landscape_enum.py; classification and the per-piece lower bound:
solvers/landscape_classify.py; resumable checkpoints: solvers/checkpoint.py. This module runs the pieces
(worker processes or Dask: plain data in, plain data out) and puts the result together.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import Outcome
from sdlscape.solvers.checkpoint import load_checkpoint, save_checkpoint, settings_hash
from sdlscape.solvers.fanout import run_tasks
from sdlscape.solvers.landscape_classify import (  # noqa: F401  (re-exported: the public names of this module)
    CLASSES,
    LandscapeResult,
    annotations,
    classify,
    piece_lower_bound,
    recovery,
)
from sdlscape.solvers.landscape_enum import (  # noqa: F401
    DEFAULT_EPS,
    DEFAULT_MAX_PIECES,
    PieceCount,
    PieceSpec,
    count_pieces,
    enumerate_pieces,
    multiplicity,
)
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern
from sdlscape.theory.piece import Piece

CHECKPOINT_VERSION = 2

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
# Running: checkpoint, pool, Dask


def settings_key(inst: Instance, starts: int, seed: int, eps: float, max_iter: int = 500) -> str:
    """Hash of the instance and the solve settings: a checkpoint is reused only under the same key."""
    return settings_hash({"instance": inst.to_dict(), "starts": starts, "seed": seed, "eps": eps, "max_iter": max_iter,
                          "version": CHECKPOINT_VERSION})


def checkpoint_path(json_path: str | os.PathLike) -> Path:
    p = Path(json_path)
    return p.with_name(p.name + ".checkpoint.json")


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
    done = load_checkpoint(ck, key)
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
                save_checkpoint(ck, key, CHECKPOINT_VERSION, done)
                last = time.monotonic()
    finally:
        if tasks:
            save_checkpoint(ck, key, CHECKPOINT_VERSION, done)
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
