"""Activations of the exact theory as objects: one class each, behind one interface, and a name registry.

    from sdlscape.theory.activations import activation_from, ReLU, TopK
    act = activation_from({"name": "topk", "k": 1})
    act.apply(Z)                     # sigma, NumPy or torch
    act.pattern_mask(Z)              # Def. 3.1; act.pattern_mask(Z, Reading.SELECTION) for the selection
"""
from sdlscape.theory.activations.base import Activation, Reduction
from sdlscape.theory.activations.elementwise import JumpReLU, ReLU, Separable
from sdlscape.theory.activations.registry import (
    REGISTRY,
    TRAINERS,
    activation_class,
    activation_from,
    examples,
    names,
    register,
    register_trainer,
    trainer_of,
    unregister,
)
from sdlscape.theory.activations.topk import TopK, TopKFamily, TopKReLU

__all__ = ["Activation", "JumpReLU", "REGISTRY", "ReLU", "Reduction", "Separable", "TRAINERS", "TopK", "TopKFamily",
           "TopKReLU", "activation_class", "activation_from", "examples", "names", "register", "register_trainer",
           "trainer_of", "unregister"]
