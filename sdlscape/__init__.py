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

_BY_MODULE = {
    # instances, activations, patterns, pieces (numpy / scipy only)
    "sdlscape.theory.instance": ("Instance", "FeatureLaw", "load_instance", "save_instance", "example_3_5",
                                 "orthogonal", "random_unit", "superposed", "hierarchical", "transcoder_pair"),
    "sdlscape.theory.activations": ("Activation", "ReLU", "JumpReLU", "TopK", "TopKReLU", "TopKFamily",
                                    "Reduction", "activation_from", "register", "unregister"),
    "sdlscape.theory.patterns": ("Pattern", "read_pattern"),
    "sdlscape.theory.piece": ("Piece", "linear_piece"),
    "sdlscape.theory.loss": ("approx_loss", "exact_loss"),
    "sdlscape.outcomes": ("Reading", "Outcome", "Status", "PieceClass"),
    # solvers (cvxpy, imported on first use)
    "sdlscape.solvers.acs": ("solve_piece", "run_acs"),
    "sdlscape.solvers.certificate": ("certify_point",),
    "sdlscape.solvers.landscape": ("map_landscape",),
    "sdlscape.solvers.certify": ("certify_piece", "certify_global"),
    # verdicts and the main job
    "sdlscape.verify.claims": ("run_checks",),
    "sdlscape.pipeline.reproduce": ("reproduce",),
}
_EXPORTS = {name: module for module, names in _BY_MODULE.items() for name in names}

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
