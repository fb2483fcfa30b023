"""sdlscape: check the theory of sparse dictionary learning on exact small instances and at scale.

The main types and entry points are available from the package itself, imported lazily (importing
sdlscape imports neither torch nor cvxpy)::

    import sdlscape as sdl
    inst = sdl.example_3_5()
    piece = sdl.Piece(inst, sdl.Pattern.parse([[0, 1], []], inst.n, inst.n_latents))
    print(piece.realizable, sdl.solve_piece(piece, starts=4).best_loss)
"""
from __future__ import annotations

import importlib
from typing import Any

from sdlscape.errors import InputError

__version__ = "0.2.0"

_EXPORTS = {
    # instances, activations, patterns, pieces (numpy / scipy only)
    "Instance": "sdlscape.theory.instance", "FeatureLaw": "sdlscape.theory.instance",
    "load_instance": "sdlscape.theory.instance", "save_instance": "sdlscape.theory.instance",
    "example_3_5": "sdlscape.theory.instance", "orthogonal": "sdlscape.theory.instance",
    "random_unit": "sdlscape.theory.instance", "superposed": "sdlscape.theory.instance",
    "hierarchical": "sdlscape.theory.instance", "transcoder_pair": "sdlscape.theory.instance",
    "Activation": "sdlscape.theory.activations", "ReLU": "sdlscape.theory.activations",
    "JumpReLU": "sdlscape.theory.activations", "TopK": "sdlscape.theory.activations",
    "TopKReLU": "sdlscape.theory.activations", "activation_from": "sdlscape.theory.activations",
    "register": "sdlscape.theory.activations", "unregister": "sdlscape.theory.activations",
    "TopKFamily": "sdlscape.theory.activations", "Reduction": "sdlscape.theory.activations",
    "Pattern": "sdlscape.theory.patterns", "read_pattern": "sdlscape.theory.patterns",
    "Piece": "sdlscape.theory.piece", "linear_piece": "sdlscape.theory.piece",
    "approx_loss": "sdlscape.theory.loss", "exact_loss": "sdlscape.theory.loss",
    "Reading": "sdlscape.outcomes", "Outcome": "sdlscape.outcomes", "Status": "sdlscape.outcomes",
    "PieceClass": "sdlscape.outcomes",
    # solvers (cvxpy, imported on first use)
    "solve_piece": "sdlscape.solvers.acs", "run_acs": "sdlscape.solvers.acs",
    "certify_point": "sdlscape.solvers.certificate", "map_landscape": "sdlscape.solvers.landscape",
    "certify_piece": "sdlscape.solvers.certify", "certify_global": "sdlscape.solvers.certify",
    # verdicts and the main job
    "run_checks": "sdlscape.verify.claims", "reproduce": "sdlscape.pipeline.reproduce",
}

__all__ = ["InputError", "__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sdlscape' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
