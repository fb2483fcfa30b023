"""Input-file schemas (pydantic v2): instance files (JSON and .npz) and activation patterns.

Every user-supplied file is validated here, at the boundary, before any object of the theory is
built: every field typed and strict (a boolean is never an integer, the string "0.5" is never a
number, NaN and inf are never numbers), unknown keys rejected at every level (top level,
``activation``, ``law``). A failure becomes one `InputError` line naming the field path and the
expected type, e.g. ``activation.theta: expected a number, got '0.5'``.

The activation's parameters are validated against the registered class (theory/activations):
one strict parameter model per class, built from its dataclass fields, so a newly registered
activation is validated like the built-in ones. Value ranges (theta > 0, k <= n_latents, unit
columns, ...) stay with the objects that own them (Activation, FeatureLaw, Instance).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import typing
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, create_model
from pydantic.types import AllowInfNan, Strict

from sdlscape.errors import InputError

FiniteFloat = Annotated[float, Strict(), AllowInfNan(False)]
Row = Annotated[list[FiniteFloat], Field(min_length=1)]
Matrix = Annotated[list[Row], Field(min_length=1)]

_STRICT = ConfigDict(extra="forbid", strict=True)

INSTANCE_KEYS = ("W_p", "W_r", "M", "activation", "n_latents", "parents", "law", "name")


class ActivationEntry(BaseModel):
    """The `activation` entry: a registered name and that class's parameters (checked per class)."""

    model_config = ConfigDict(extra="allow", strict=True)
    name: StrictStr


class LawSpec(BaseModel):
    """The `law` entry: x_d = m_d (c_min + E_d), m_d ~ Bernoulli(p_active), E_d ~ Exp(mean beta)."""

    model_config = _STRICT
    p_active: FiniteFloat
    c_min: FiniteFloat = 0.0
    beta: FiniteFloat = 1.0


class InstanceSpec(BaseModel):
    """An instance file (ARCHITECTURE.md): W_p (n_p x n), optional W_r, M, parents, law, name."""

    model_config = _STRICT
    W_p: Matrix
    W_r: Matrix | None = None
    M: Annotated[list[FiniteFloat], Field(min_length=1)] | None = None
    activation: Any              # validated on its own, against its class (activation_spec)
    n_latents: Annotated[StrictInt, Field(ge=1)]
    parents: list[list[Annotated[StrictInt, Field(ge=0)]]] | None = None
    law: LawSpec | None = None
    name: StrictStr = ""


PatternSpec = Annotated[list[list[Annotated[StrictInt, Field(ge=0)]]], Field()]

# ---------------------------------------------------------------------------------------------
# Messages


_EXPECTED = {
    "int_type": "an integer", "int_from_float": "an integer", "int_parsing": "an integer",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number (not NaN or inf)",
    "string_type": "a string", "list_type": "a list", "dict_type": "an object", "model_type": "an object",
    "model_attributes_type": "an object", "bool_type": "true or false", "none_required": "null",
}


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("list[list[int]]", "function-after", "constrained-int"):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe(err: dict[str, Any], prefix: tuple[Any, ...] = ()) -> str:
    """One pydantic error as 'path: expected TYPE, got VALUE' (or the constraint it broke)."""
    loc = _path(prefix + tuple(err.get("loc", ())))
    kind = err.get("type", "")
    where = f"{loc}: " if loc else ""
    if kind == "missing":
        return f"{where}missing (a required key)"
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    if kind in _EXPECTED:
        return f"{where}expected {_EXPECTED[kind]}, got {_short(err.get('input'))}"
    if kind == "greater_than_equal":
        return f"{where}must be >= {err['ctx']['ge']}, got {_short(err.get('input'))}"
    if kind == "too_short":
        return f"{where}must not be empty"
    return f"{where}{err.get('msg', 'invalid')}, got {_short(err.get('input'))}"


def _raise(what: str, exc: ValidationError, prefix: tuple[Any, ...] = ()) -> typing.NoReturn:
    errors = _useful(exc.errors())
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    raise InputError(f"{what}: {describe(errors[0], prefix)}{more}") from None


def _useful(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the 'expected null' alternative pydantic reports for an optional field that was given."""
    keep = [e for e in errors if e.get("type") != "none_required"]
    return keep or errors


# ---------------------------------------------------------------------------------------------
# Plain values: numpy scalars and arrays (an .npz, or Python callers) to JSON-like values


def plain(obj: Any) -> Any:
    """Lists for tuples and arrays, Python scalars for numpy scalars; booleans stay booleans."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, (list, tuple)):
        return [plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    return obj


# ---------------------------------------------------------------------------------------------
# Activations: one strict parameter model per registered class


_PARAM_TYPES: dict[Any, Any] = {float: FiniteFloat, int: StrictInt, str: StrictStr, bool: bool}


@functools.cache
def _params_model(cls: type) -> type[BaseModel]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:          # a registered class whose annotations do not resolve: no type check
        hints = {}
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        tp = _PARAM_TYPES.get(hints.get(f.name, Any), Any)
        default = f.default if f.default is not dataclasses.MISSING else ...
        fields[f.name] = (tp, default)
    return create_model(f"{cls.__name__}Params", __config__=_STRICT, **fields)


def activation_spec(entry: Any, what: str = "instance", prefix: tuple[Any, ...] = ("activation",)
                    ) -> dict[str, Any]:
    """Validate an `activation` entry ({"name": ..., params} or a bare name) against its class."""
    from sdlscape.theory.activations import REGISTRY, activation_class

    entry = plain(entry)
    if isinstance(entry, str):
        entry = {"name": entry}
    try:
        head = ActivationEntry.model_validate(entry)
    except ValidationError as exc:
        _raise(what, exc, prefix)
    if head.name not in REGISTRY:
        raise InputError(f"{what}: {_path(prefix + ('name',))}: unknown activation {head.name!r}; "
                         f"expected one of {', '.join(REGISTRY)}")
    cls = activation_class(head.name)
    params = {k: v for k, v in entry.items() if k != "name"}
    try:
        checked = _params_model(cls).model_validate(params)
    except ValidationError as exc:
        _raise(what, exc, prefix)
    return {"name": head.name, **checked.model_dump()}


# ---------------------------------------------------------------------------------------------
# Instances and patterns


def _rectangular(what: str, key: str, rows: list[list[float]] | None) -> None:
    if rows is None:
        return
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise InputError(f"{what}: {key}: not a matrix: row {i} has {len(r)} entries, row 0 has {width}")


def instance_spec(d: Any, what: str = "instance") -> dict[str, Any]:
    """Validate an instance dict; return its keys with plain Python values (activation checked)."""
    check_json_value(d, what)
    d = plain(d)
    if not isinstance(d, dict):
        raise InputError(f"{what}: expected an object with keys W_p, activation, n_latents "
                         f"(and optionally W_r, M, parents, law, name), got {type(d).__name__}")
    try:
        spec = InstanceSpec.model_validate(d)
    except ValidationError as exc:
        _raise(what, exc)
    out = spec.model_dump()
    _rectangular(what, "W_p", out["W_p"])
    _rectangular(what, "W_r", out["W_r"])
    out["activation"] = activation_spec(d["activation"], what)
    return out


def pattern_spec(obj: Any, what: str = "pattern") -> list[list[int]]:
    """Validate a pattern: a list of lists of 0-based feature indices (integers), one per latent."""
    check_json_value(obj, what)
    obj = plain(obj)
    if not isinstance(obj, list) or not all(isinstance(s, list) for s in obj):
        raise InputError(f"{what}: expected a list of lists of feature indices, one list per latent "
                         f"(e.g. [[0, 1], []]), got {_short(obj)}")
    try:
        return _pattern_adapter().validate_python(obj)
    except ValidationError as exc:
        errors = _useful(exc.errors())
        e = errors[0]
        loc = tuple(p for p in e.get("loc", ()) if isinstance(p, int))
        where = f"latent {loc[0]}" + (f", entry {loc[1]}" if len(loc) > 1 else "")
        kind = e.get("type", "")
        if kind == "greater_than_equal":
            msg = f"{_short(e.get('input'))} is not a feature index (feature indices are >= 0)"
        else:
            msg = f"{_short(e.get('input'))} is not a feature index (expected an integer)"
        raise InputError(f"{what}: {where}: {msg}") from None


@functools.lru_cache(maxsize=1)
def _pattern_adapter():
    from pydantic import TypeAdapter

    return TypeAdapter(PatternSpec, config=ConfigDict(strict=True))


MAX_JSON_DEPTH = 32    # no valid instance or pattern nests deeper than 4; far deeper input breaks recursion later
MAX_JSON_INT = 2 ** 63 - 1   # sizes, indices and k: anything larger cannot be an array size and overflows floats


def check_json_value(obj: Any, what: str) -> None:
    """InputError for parsed input that would break later: nesting deeper than MAX_JSON_DEPTH, an integer
    beyond MAX_JSON_INT in magnitude, or a string holding a lone surrogate (it cannot be printed or written
    as UTF-8). Iterative, so any depth is safe."""
    stack = [(obj, 1)]
    while stack:
        x, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise InputError(f"{what}: nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(x, str):
            try:
                x.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(f"{what}: the text {x[:20]!r} holds a lone surrogate "
                                 f"({x[exc.start]!r}), which is not valid Unicode") from None
        elif isinstance(x, int) and not isinstance(x, bool) and abs(x) > MAX_JSON_INT:
            raise InputError(f"{what}: an integer of {len(str(abs(x)))} digits (at most 2**63 - 1)")
        elif isinstance(x, dict):
            stack.extend((k, depth + 1) for k in x)
            stack.extend((v, depth + 1) for v in x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend((v, depth + 1) for v in x)


def parse_json_text(text: str, what: str) -> Any:
    """json.loads with a one-line InputError; NaN/Infinity tokens are read and rejected later."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{what} is not valid JSON: nested too deeply") from None
    except ValueError as exc:       # an integer of more than sys.get_int_max_str_digits() digits
        raise InputError(f"{what}: {str(exc).split(';')[0]}") from None
    check_json_value(obj, what)
    return obj
