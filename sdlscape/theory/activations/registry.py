"""One namespace of activation names: the exact theory's activations and the trainer's codes.

REGISTRY maps an instance-file name to its Activation class (the exact theory). TRAINERS declares the
trainer codes (TrainConfig.activation; implemented in torch in solvers/torch_codes.py, whose CODES must
cover exactly these names): a trainer code is an activation (a REGISTRY name, or None for a map the exact
theory does not have: gated, batch-level TopK) plus a penalty. A name means one thing: a trainer code may
share a name only with the activation it trains ("relu" = ReLU + L1), and `register` refuses a taken name
(as SAELens's register_sae_class does) or a class that leaves a required answer unset (base.REQUIRED).
Declared here, not in torch_codes, so that the names are known without importing torch.

Adding an activation = one class + one `register(cls)` line (CONTRIBUTING.md).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from sdlscape.errors import InputError
from sdlscape.theory.activations.base import Activation
from sdlscape.theory.activations.elementwise import JumpReLU, ReLU
from sdlscape.theory.activations.topk import TopK, TopKReLU


@dataclasses.dataclass(frozen=True)
class TrainerCode:
    """A trainer code's entry in the namespace: the activation it trains (None: none of REGISTRY) + its penalty."""

    name: str
    activation: str | None
    penalty: str


REGISTRY: dict[str, type[Activation]] = {}
TRAINERS: dict[str, TrainerCode] = {}


def register(cls: type[Activation]) -> type[Activation]:
    """Make an Activation subclass available by its `name` (usable as a class decorator).

    Raises TypeError for a class that is not a complete Activation, ValueError for a taken name."""
    if not (isinstance(cls, type) and issubclass(cls, Activation)):
        raise TypeError(f"{cls!r} is not an Activation subclass")
    missing = cls.unanswered()
    if missing:
        raise TypeError(f"activation class {cls.__name__} leaves unanswered: {', '.join(missing)} "
                        "(see sdlscape.theory.activations.base.Activation)")
    name = cls.name
    if name in REGISTRY:
        raise ValueError(f"activation name {name!r} is already registered (class {REGISTRY[name].__qualname__})")
    code = TRAINERS.get(name)
    if code is not None and code.activation != name:
        raise ValueError(f"activation name {name!r} is taken by the trainer code {name!r} ({code.penalty})")
    REGISTRY[name] = cls
    return cls


def unregister(name: str) -> type[Activation]:
    """Remove an activation (tests that register one); refuses one a trainer code still trains."""
    if name not in REGISTRY:
        raise KeyError(f"activation {name!r} is not registered")
    users = [c for c, code in TRAINERS.items() if code.activation == name]
    if users:
        raise ValueError(f"activation {name!r} is trained by the trainer codes {users}; unregister those first")
    return REGISTRY.pop(name)


def register_trainer(name: str, activation: str | None, penalty: str) -> TrainerCode:
    """Declare a trainer code: the activation it trains (None or a registered name) and its penalty."""
    if name in TRAINERS:
        raise ValueError(f"trainer code name {name!r} is already registered")
    if activation is not None and activation not in REGISTRY:
        raise ValueError(f"trainer code {name!r} trains the unknown activation {activation!r}")
    if name in REGISTRY and activation != name:
        raise ValueError(f"trainer code name {name!r} is taken by the activation {REGISTRY[name].__qualname__}")
    TRAINERS[name] = code = TrainerCode(name, activation, penalty)
    return code


for _cls in (ReLU, JumpReLU, TopK, TopKReLU):
    register(_cls)
for _code in (("relu", "relu", "L1 (eq. 5; with an encoder bias)"),
              ("jumprelu", "jumprelu", "L0 by a straight-through estimator (eq. 6)"),
              ("gated", None, "L1 on the gate + its reconstruction"),
              ("topk_relu", "topk_relu", "none: the budget k (eq. 7)"),
              ("batchtopk_relu", None, "none: the budget k per sample, over the batch"),
              ("matryoshka_topk_relu", "topk_relu", "none: the budget k, nested prefix losses (eq. 9)")):
    register_trainer(*_code)


def names() -> tuple[str, ...]:
    """The registered activations of the exact theory, in registration order."""
    return tuple(REGISTRY)


def trainer_of(name: str) -> TrainerCode | None:
    """The trainer code that trains activation `name` under its own name, or None (no torch trainer)."""
    code = TRAINERS.get(name)
    return code if code is not None and code.activation == name else None


def examples(full: bool = False) -> list[Activation]:
    """Every registered activation at the parameters a claim search tries: what tests loop over."""
    return [a for cls in REGISTRY.values() for a in cls.search_variants(full)]


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
