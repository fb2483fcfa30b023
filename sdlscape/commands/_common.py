"""Argument helpers shared by the subcommands: instance and pattern arguments, JSON output."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_instance_argument(parser: argparse.ArgumentParser, optional: bool = False) -> None:
    if optional:
        parser.add_argument("--instance", metavar="FILE", help="instance file (JSON or .npz)")
    else:
        parser.add_argument("instance", metavar="INSTANCE", help="instance file (JSON or .npz)")
    parser.add_argument("--normalize", action="store_true",
                        help="rescale non-unit columns of W_p/W_r instead of rejecting them")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="write the machine-readable result here")


def load_instance_arg(path: str, normalize: bool):
    from sdlscape.theory.instance import load_instance

    return load_instance(path, normalize=normalize)


def parse_pattern_arg(text: str, inst) -> Any:
    """A pattern given as JSON text, or as the path of a file holding it."""
    from sdlscape.theory.patterns import Pattern

    if text and not text.lstrip().startswith("[") and Path(text).is_file():
        text = Path(text).read_text()
    return Pattern.parse(text, inst.n, inst.n_latents)


def add_reading_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reading", choices=("def3.1", "selection"), default="def3.1",
                        help="how a pattern is read: Def. 3.1 (sigma(.)_i > 0, the paper's) or the selected set "
                             "(differs for plain TopK only; default def3.1)")


def make_piece(inst, pattern, eps: float, reading: str):
    from sdlscape.outcomes import Reading
    from sdlscape.theory.piece import Piece

    return Piece(inst, pattern, eps, Reading(reading))


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {v}")
    return v


def write_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if getattr(args, "json", None):
        from sdlscape.storage import write_json

        write_json(args.json, result)


def fmt_matrix(W, digits: int = 4) -> str:
    import numpy as np

    return np.array2string(np.asarray(W), precision=digits, suppress_small=True)


def dumps(obj: Any) -> str:
    from sdlscape.storage import to_jsonable

    return json.dumps(to_jsonable(obj))
