"""A Piece: one activation-pattern region of an instance (eq. 13), with everything computed once.

A Piece is an instance, a pattern, a margin eps for the strict inequalities, and the reading of the
pattern (Def. 3.1 by default). It computes, lazily and once, its region Omega_P (linear inequalities
in vec(W_E)), its realizability (decided by the largest margin: an exact witness W_E, or an exact
Motzkin certificate; the margin eps only tightens the region the solvers work in), the mask of the linear
map sigma restricted to the region, and Thm 3.6's per-latent matrices K_i. Solvers and checks take
a Piece; nothing else passes (instance, pattern, eps) around.

Inside a linear piece L~ (eq. 11) is the quadratic sum_d M_d || w_r^d - W_D (S[:, d] * (W_E w_p^d)) ||^2
with S the passed-latent mask. Under Def. 3.1, plain TopK's region also holds encoders that pass
non-positive codes the pattern does not show; such a piece is a union of linear parts (`parts()`),
each a selection-reading piece whose positive codes are fixed (`fired`).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np

from sdlscape import numerics
from sdlscape.errors import InputError
from sdlscape.outcomes import Feasibility, InconclusiveReason, Reading
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern, read_pattern
from sdlscape.theory.region import Region, feasible_point, pattern_region


@dataclass(frozen=True, kw_only=True)
class Realizability:
    """Is Omega_P non-empty (its strict inequalities strict)? Decided by the largest margin (theory/strict.py):
    a witness W_E checked in exact rationals, or a Motzkin certificate y of the strict system checked in
    exact rationals (y >= 0, G^T y = 0, h_open^T y <= 0, and y on a strict row or h_open^T y < 0); else
    undecided with a typed reason. The solvers' margin eps does not enter the decision.

    witness: a point of the region tightened by eps when the region is that wide (what the solvers start
    from), else the max-margin point (`thin`: the region is narrower than eps); found when first asked for
    (`start`: the LPs that find it; the decision itself never needs it); margin: the LP's t*.
    """

    status: Feasibility
    certificate: np.ndarray | None
    eps: float
    detail: str
    margin: float | None = None
    reason: InconclusiveReason | None = None
    start: Callable[[], tuple[np.ndarray, bool]] | None = field(default=None, repr=False, compare=False)
    certificate_exact: tuple[Fraction, ...] | None = field(default=None, repr=False)   # y in rationals

    @cached_property
    def _solver_start(self) -> tuple[np.ndarray | None, bool]:
        return (None, False) if self.start is None else self.start()

    @property
    def witness(self) -> np.ndarray | None:
        return self._solver_start[0]

    @property
    def thin(self) -> bool:
        return self._solver_start[1]

    @property
    def realizable(self) -> bool:
        return self.status is Feasibility.REALIZABLE

    def to_dict(self) -> dict[str, Any]:
        return {"realizable": self.realizable, "status": self.status.value, "detail": self.detail,
                "witness": None if self.witness is None else self.witness.tolist(),
                "certificate": None if self.certificate is None else {
                    "farkas_y": self.certificate.tolist(), "kind": "motzkin",
                    **({} if self.certificate_exact is None else
                       {"farkas_y_exact": [str(v) for v in self.certificate_exact]}),
                    "meaning": "y >= 0, G^T y = 0, h^T y <= 0 and (y > 0 on a strict row or h^T y < 0) for the "
                               "region G vec(W_E) <= h, strict rows strict (no margin); farkas_y_exact (rationals "
                               "'p/q') satisfies it exactly for G, h as stored in floats; farkas_y is it rounded"},
                "eps": self.eps, "margin": self.margin, "thin": self.thin,
                "reason": None if self.reason is None else self.reason.value}


@dataclass(frozen=True, eq=False)
class Piece:
    """One activation-pattern piece of an instance (eq. 13); see the module docstring.

    Parameters
    ----------
    instance : Instance
        The SDL instance (W_p, W_r, M, activation, n_latents).
    pattern : Pattern
        The activation pattern P = (F_1, ..., F_{n_q}) (Def. 3.1).
    margin : float, default numerics.MARGIN_EPS
        eps > 0 enforcing the strict inequalities of the region (a.w < b becomes a.w <= b - eps).
    reading : Reading, default Reading.DEF_3_1
        How the pattern is read: sigma(.)_i > 0 (the paper's), or the selected set (plain TopK).
    fired : Pattern, optional
        For a selection-reading part of a Def. 3.1 plain-TopK piece: which passed codes are positive.

    Raises
    ------
    InputError
        If the sizes disagree, the margin is not finite and positive, or no encoder can show the
        pattern for structural reasons (TopK counts).

    Examples
    --------
    >>> from sdlscape import Pattern, Piece, example_3_5
    >>> inst = example_3_5()
    >>> Piece(inst, Pattern.parse([[0, 1], []], 2, 2)).realizable
    True
    """

    instance: Instance
    pattern: Pattern
    margin: float = numerics.MARGIN_EPS
    reading: Reading = Reading.DEF_3_1
    fired: Pattern | None = None

    def __post_init__(self) -> None:
        inst, P = self.instance, self.pattern
        if not isinstance(inst, Instance):
            raise InputError("a Piece needs a sdlscape Instance")
        if not isinstance(P, Pattern):
            raise InputError("a Piece needs a sdlscape Pattern (Pattern.parse reads the file format)")
        if isinstance(self.margin, bool) or not isinstance(self.margin, (int, float)) \
                or not math.isfinite(self.margin) or self.margin <= 0:
            raise InputError(f"the margin eps must be finite and positive, got {self.margin!r}")
        object.__setattr__(self, "margin", float(self.margin))
        if not isinstance(self.reading, Reading):
            object.__setattr__(self, "reading", Reading(self.reading))
        if P.n != inst.n:
            raise InputError(f"pattern is over {P.n} features but the instance has {inst.n}")
        if P.n_latents != inst.n_latents:
            raise InputError(f"pattern has {P.n_latents} latent sets but the instance has "
                             f"n_latents = {inst.n_latents}")
        for d, c in enumerate(P.mask.sum(axis=0)):
            why = inst.activation.check_column(int(c), inst.n_latents, self.reading)
            if why is not None:
                raise InputError(f"impossible pattern for {inst.activation}: feature {d} activates {c} latents, "
                                 f"{why}")
        if self.fired is not None and (self.reading is not Reading.SELECTION
                                       or np.any(self.fired.mask & ~P.mask)):
            raise InputError("`fired` refines a selection-reading piece: it must be a subset of its pattern")

    # -- geometry ------------------------------------------------------------------------------
    @cached_property
    def mask(self) -> np.ndarray:
        m = self.pattern.mask
        m.setflags(write=False)
        return m

    @cached_property
    def region(self) -> Region:
        """Omega_P (eq. 13), strict inequalities tightened by the margin."""
        inst = self.instance
        return pattern_region(inst.activation, inst.W_p, self.mask, self.margin, self.reading,
                              None if self.fired is None else self.fired.mask)

    def contains(self, W_E: np.ndarray, tol: float = numerics.REGION_MEMBERSHIP_TOL) -> bool:
        return self.region.contains(W_E, tol)

    @property
    def linear(self) -> bool:
        """Is sigma the pattern's linear map S * z on the whole region (one quadratic L~)?"""
        act, nl = self.instance.activation, self.instance.n_latents
        return all(len(act.passing_sets(self.pattern.column(d), nl, self.reading)) == 1
                   for d in range(self.instance.n))

    @cached_property
    def loss_mask(self) -> np.ndarray:
        """The passed-latent mask S: sigma(W_E w_p^d) = S[:, d] * (W_E w_p^d) inside the region."""
        if not self.linear:
            raise InputError(f"the {self.reading} piece {self.pattern} of {self.instance.activation} is a union "
                             "of linear pieces (non-positive codes pass unseen): solve piece.parts()")
        act, nl = self.instance.activation, self.instance.n_latents
        S = np.zeros_like(self.mask)
        for d in range(self.instance.n):
            (cols,) = act.passing_sets(self.pattern.column(d), nl, self.reading)
            S[sorted(cols), d] = True
        S.setflags(write=False)
        return S

    def parts(self) -> tuple[Piece, ...]:
        """The linear pieces whose union is this piece (itself when it is linear)."""
        if self.linear:
            return (self,)
        act, inst = self.instance.activation, self.instance
        per_feature = [act.passing_sets(self.pattern.column(d), inst.n_latents, self.reading) for d in range(inst.n)]
        out = []
        for choice in itertools.product(*per_feature):
            S = np.zeros((inst.n_latents, inst.n), dtype=bool)
            for d, cols in enumerate(choice):
                S[sorted(cols), d] = True
            out.append(Piece(inst, Pattern.from_mask(S), self.margin, Reading.SELECTION, fired=self.pattern))
        return tuple(out)

    @cached_property
    def live_latents(self) -> np.ndarray:
        """Latents with a non-empty passed set (the others have a zero code row)."""
        return np.flatnonzero(self.loss_mask.any(axis=1))

    def codes(self, W_E: np.ndarray) -> np.ndarray:
        """S * (W_E W_p): the codes of the features alone inside the region (n_latents x n)."""
        return np.where(self.loss_mask, np.asarray(W_E, dtype=float) @ self.instance.W_p, 0.0)

    def loss(self, W_D: np.ndarray, W_E: np.ndarray) -> float:
        """The region's quadratic L~ (eq. 11 with sigma = S * z); equals L~ at points of the region."""
        from sdlscape.theory.loss import approx_loss

        return approx_loss(self.instance, W_D, W_E, self.loss_mask)

    def latent_gram(self, i: int) -> np.ndarray:
        """Thm 3.6's K_i = M^{1/2} (W_r^T W_r)_{F_i} M^{1/2} over the features of latent i."""
        F = sorted(self.pattern.sets[i])
        m = np.sqrt(self.instance.M[F])
        G = self.instance.W_r[:, F].T @ self.instance.W_r[:, F]
        return m[:, None] * G * m[None, :]

    def reads_back(self, W_E: np.ndarray) -> bool:
        """Does W_E show exactly this pattern (and, for a part, its positive codes)?"""
        if read_pattern(self.instance, W_E, self.reading) != self.pattern:
            return False
        return self.fired is None or read_pattern(self.instance, W_E, Reading.DEF_3_1) == self.fired

    # -- realizability -------------------------------------------------------------------------
    @cached_property
    def realizability(self) -> Realizability:
        """Is the pattern realizable? Decided without the margin eps (Realizability's docstring)."""
        reg = self.region
        ans = reg.decide()
        if ans.status is Feasibility.REALIZABLE:
            W = ans.witness.reshape(reg.shape)
            return Realizability(status=Feasibility.REALIZABLE, certificate=None, eps=self.margin,
                                 margin=ans.margin, detail=ans.detail, start=lambda: self._solver_witness(W))
        return Realizability(status=ans.status, certificate=ans.certificate, eps=self.margin,
                             margin=ans.margin, reason=ans.reason, detail=ans.detail,
                             certificate_exact=ans.certificate_exact)

    def _solver_witness(self, W: np.ndarray) -> tuple[np.ndarray, bool]:
        """The solvers' start: a point of the eps-tightened region that reads back (the least-L1 LP point, as the
        ACS starts always were; else the exact witness, scaled for cones), or the exact witness W itself with
        thin = True when the region is narrower than eps."""
        reg = self.region
        for slack in (self.margin, 0.0):
            w, _ = feasible_point(reg, slack)
            if w is not None and reg.contains(w.reshape(reg.shape), tol=numerics.WITNESS_RECHECK_TOL) \
                    and self.reads_back(w.reshape(reg.shape)):
                return w.reshape(reg.shape), False
        if reg.contains(W, tol=0.0) and self.reads_back(W):
            return W, False
        sl = (reg.h_open - reg.G @ W.reshape(-1))[reg.strict]
        if not np.any(reg.h_open) and sl.size and sl.min() > 0:   # a cone: scaling keeps every row
            W2 = W * (2 * self.margin / float(sl.min()))
            if reg.contains(W2, tol=0.0) and self.reads_back(W2):
                return W2, False
        return W, True

    @property
    def realizable(self) -> bool:
        return self.realizability.realizable

    def to_dict(self) -> dict[str, Any]:
        d = {"pattern": self.pattern.to_json(), "eps": self.margin, "reading": self.reading.value}
        if self.fired is not None:
            d["fired"] = self.fired.to_json()
        return d

    def __repr__(self) -> str:
        return (f"Piece({self.instance.name or 'instance'}, {self.pattern}, eps={self.margin:g}, "
                f"reading={self.reading.value}" + ("" if self.fired is None else f", fired={self.fired}") + ")")


def linear_piece(inst: Instance, pattern: Pattern, eps: float = numerics.MARGIN_EPS) -> Piece:
    """The piece of `pattern` in the activation's linear reading (plain TopK: the selection), on which sigma is
    the pattern's linear map: what the landscape enumerates and the block solvers take."""
    return Piece(inst, pattern, eps, inst.activation.linear_reading)
