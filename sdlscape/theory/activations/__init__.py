"""Activations of the exact theory as objects: one class each, behind one interface, and a name registry.

    from sdlscape.theory.activations import activation_from, ReLU, TopK
    act = activation_from({"name": "topk", "k": 1})
    act.apply(Z)                     # sigma, NumPy or torch
    act.pattern_mask(Z)              # Def. 3.1; act.pattern_mask(Z, Reading.SELECTION) for the selection
"""
from sdlscape.theory.activations.base import Activation
from sdlscape.theory.activations.elementwise import JumpReLU, ReLU, Separable
from sdlscape.theory.activations.registry import (
           REGISTRY,
           activation_class,
           activation_from,
           names,
           register,
)
from sdlscape.theory.activations.topk import TopK, TopKReLU

__all__ = ["Activation", "JumpReLU", "REGISTRY", "ReLU", "Separable", "TopK", "TopKReLU", "activation_class",
           "activation_from", "names", "register"]
