"""The bench's trainer variants by name: one registry of SDL methods (ReLU, JumpReLU, TopK, ... transcoder).

A *method* is what a paper table row names ("TopK SAE", "Transcoder"); it fixes the instantiation
(SAE / transcoder / crosscoder, Def. 2.3), the *trainer code* of :mod:`sdlscape.solvers.gradient`
(how latents are computed and penalised), how its sparsity is set, and how it is exported to
SAELens.  Everything in bench/ that depends on the method asks this registry; nothing compares
method or code names anywhere else.

Names (explicit, because "topk" means plain TopK in theory/ and TopK o ReLU here):

==============  ================================  =====================  ===========
method          what is trained                   trainer code           sparsity
==============  ================================  =====================  ===========
relu            ReLU SAE + L1 penalty (eq. 5)     relu                   L1 coef
jumprelu        JumpReLU SAE + L0 (eq. 6)         jumprelu               L0 coef
gated           Gated SAE (+ L1 on the gate)      gated                  L1 coef
topk            TopK SAE, TopK o ReLU (eq. 7)     topk_relu              k
topk_auxk       TopK o ReLU + AuxK (eq. 8)        topk_relu (auxk on)    k
batchtopk       BatchTopK o ReLU SAE              batchtopk_relu         k
matryoshka      Matryoshka TopK o ReLU (eq. 9)    matryoshka_topk_relu   k
transcoder      TopK o ReLU transcoder            topk_relu              k
crosscoder      TopK o ReLU crosscoder, 2 srcs    topk_relu              k
==============  ================================  =====================  ===========

The method names are the keys of result rows (``"method": "topk"``, ARCHITECTURE.md) and stay
as they were; the trainer codes are what ``TrainConfig.activation`` takes.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sdlscape.errors import InputError


class Sparsity(str, Enum):
    """How a method's sparsity is set: a hard budget k, or a penalty coefficient to calibrate."""

    K = "k"            # TopK family: k latents per sample (or k * batch for BatchTopK)
    L1 = "l1"          # ReLU / gated: L1 coefficient (TrainConfig.l1_coef)
    L0 = "l0"          # JumpReLU: L0 coefficient (TrainConfig.l0_coef)


@dataclass(frozen=True, kw_only=True)
class Method:
    """One trainer variant of the bench (see the module table)."""

    name: str
    label: str
    kind: str                      # bench instantiation: "sae" | "transcoder" | "crosscoder" (lrb.KINDS)
    code: str                      # trainer code of solvers.gradient (TrainConfig.activation)
    sparsity: Sparsity
    saelens_architecture: str      # the SAELens architecture our export is loaded as
    auxk: bool = False             # AuxK auxiliary loss on (eq. 8)
    note: str = ""

    @property
    def uses_k(self) -> bool:
        return self.sparsity is Sparsity.K

    @property
    def calibrated(self) -> bool:
        """Sparsity set by a coefficient: calibrated to a target L0 by a coefficient search
        (bench/calibration.py)."""
        return self.sparsity is not Sparsity.K


def _m(**kw) -> Method:
    return Method(**kw)


METHODS: dict[str, Method] = {m.name: m for m in (
    _m(name="relu", label="ReLU SAE", kind="sae", code="relu", sparsity=Sparsity.L1,
       saelens_architecture="standard"),
    _m(name="jumprelu", label="JumpReLU SAE", kind="sae", code="jumprelu", sparsity=Sparsity.L0,
       saelens_architecture="jumprelu"),
    _m(name="topk", label="TopK SAE (TopK o ReLU)", kind="sae", code="topk_relu", sparsity=Sparsity.K,
       saelens_architecture="topk"),
    _m(name="batchtopk", label="BatchTopK SAE", kind="sae", code="batchtopk_relu", sparsity=Sparsity.K,
       saelens_architecture="jumprelu", note="exported as JumpReLU with its global inference threshold"),
    _m(name="matryoshka", label="Matryoshka SAE (TopK o ReLU)", kind="sae", code="matryoshka_topk_relu",
       sparsity=Sparsity.K, saelens_architecture="topk"),
    _m(name="gated", label="Gated SAE", kind="sae", code="gated", sparsity=Sparsity.L1,
       saelens_architecture="gated"),
    _m(name="topk_auxk", label="TopK SAE + AuxK", kind="sae", code="topk_relu", sparsity=Sparsity.K,
       saelens_architecture="topk", auxk=True),
    _m(name="transcoder", label="Transcoder (TopK o ReLU)", kind="transcoder", code="topk_relu",
       sparsity=Sparsity.K, saelens_architecture="topk"),
    _m(name="crosscoder", label="Crosscoder (TopK o ReLU, 2 sources)", kind="crosscoder", code="topk_relu",
       sparsity=Sparsity.K, saelens_architecture="topk"),
)}

# Trainer code -> SAELens architecture of an exported model (export.py reads a model, not a method).
SAELENS_ARCHITECTURE: dict[str, str] = {}
for _method in METHODS.values():
    SAELENS_ARCHITECTURE.setdefault(_method.code, _method.saelens_architecture)


def method(name: str) -> Method:
    """The registered method called ``name`` (InputError naming the choices otherwise)."""
    try:
        return METHODS[name]
    except KeyError:
        raise InputError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}") from None


def by_code(code: str) -> Method:
    """The first registered method trained with trainer code ``code`` (for exports of bare models)."""
    for m in METHODS.values():
        if m.code == code:
            return m
    raise InputError(f"no bench method uses trainer code {code!r}")
