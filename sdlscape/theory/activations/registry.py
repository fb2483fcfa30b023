"""The activation registry: instance-file names -> classes. Adding an activation = one class + one line here."""
from __future__ import annotations

import dataclasses
from typing import Any

from sdlscape.errors import InputError
from sdlscape.theory.activations.base import Activation
from sdlscape.theory.activations.elementwise import JumpReLU, ReLU
from sdlscape.theory.activations.topk import TopK, TopKReLU

REGISTRY: dict[str, type[Activation]] = {}


def register(cls: type[Activation]) -> type[Activation]:
    """Make an Activation subclass available by its `name` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Activation)):
        raise TypeError(f"{cls!r} is not an Activation subclass")
    REGISTRY[cls.name] = cls
    return cls


for _cls in (ReLU, JumpReLU, TopK, TopKReLU):
    register(_cls)


def names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def activation_class(name: Any) -> type[Activation]:
    if not isinstance(name, str) or name not in REGISTRY:
        raise InputError(f"unknown activation {name!r}; expected one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def activation_from(spec: Any) -> Activation:
    """An Activation from an instance file's `activation` entry: {"name": ..., params} or a bare name."""
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise InputError("activation must be an object with a 'name'")
    cls = activation_class(spec["name"])
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(spec) - fields - {"name"})
    if unknown:
        raise InputError(f"activation {cls.name} has unknown keys {unknown}; it takes "
                         + (", ".join(sorted(fields)) if fields else "no parameters"))
    missing = sorted(f.name for f in dataclasses.fields(cls)
                     if f.name not in spec and f.default is dataclasses.MISSING)
    if missing:
        raise InputError(f"activation {cls.name} needs {', '.join(missing)}")
    return cls(**{k: v for k, v in spec.items() if k != "name"})
