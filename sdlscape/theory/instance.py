"""SDL instances: ground-truth dictionaries W_p, W_r, feature weights M_d, activation, latent count.

An Instance is what is given to every solver (PAPER.md Sec. 1): x_p = W_p x, x_r = W_r x with
unit-norm columns, the weights M_d of the approximate loss (eq. 11), the activation sigma and the
number of latents n_q. This module gathers the instance's names in one place: the value types
(theory/instance_types.py), the instance file of ARCHITECTURE.md (theory/instance_io.py) and the
families of instances (theory/families.py).
"""
from __future__ import annotations

from sdlscape.theory.activations import Activation, TopKReLU, activation_from  # noqa: F401 - re-exported
from sdlscape.theory.families import (  # noqa: F401 - re-exported
    example_3_5,
    hierarchical,
    orthogonal,
    random_unit,
    superposed,
    superposed_dictionary,
    transcoder_pair,
)
from sdlscape.theory.instance_io import load_instance, save_instance  # noqa: F401 - re-exported
from sdlscape.theory.instance_types import UNIT_NORM_TOL, FeatureLaw, Instance  # noqa: F401 - re-exported
