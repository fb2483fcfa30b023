"""String enums for every outcome and status sdlscape reports (JSON only at the edge: an enum is its value).

Decisions are taken on these values, never on the wording of a message.
"""
from __future__ import annotations

from enum import Enum


class _StrEnum(str, Enum):
    """A str-valued enum that prints and serializes as its value."""

    def __str__(self) -> str:
        return str(self.value)


class Reading(_StrEnum):
    """How an activation pattern is read off an encoder (PAPER.md sec. 7).

    DEF_3_1: F_i = {d : sigma(W_E w_p^d)_i > 0} (the paper's Def. 3.1, the default);
    SELECTION: F_i = {d : sigma passes z_id through} (plain TopK: the selected set, whatever its sign).
    The two coincide for every activation whose passed values are positive (ReLU, JumpReLU, TopK o ReLU).
    """

    DEF_3_1 = "def3.1"
    SELECTION = "selection"


class Outcome(_StrEnum):
    """What alternating convex search reached inside one piece (solvers/acs)."""

    PARTIAL_OPTIMUM = "partial_optimum"
    LEAVES_REGION = "leaves_region"
    INCONCLUSIVE = "inconclusive"


OUTCOME_ORDER = (Outcome.PARTIAL_OPTIMUM, Outcome.LEAVES_REGION, Outcome.INCONCLUSIVE)
"""A piece's outcome is the first of these that any of its starts reached."""


class Status(_StrEnum):
    """The verdict of one claim check."""

    HOLDS = "holds"
    FAILS = "fails"
    INCONCLUSIVE = "inconclusive"
    NOT_APPLICABLE = "not_applicable"   # the instance cannot meet the claim's hypotheses (nothing to search)


class InconclusiveReason(_StrEnum):
    """Why a decision is inconclusive (never read as holds or fails)."""

    FP_BAND = "fp_band"                  # neither a witness nor a certificate survived its exact check
    SOLVER_STATUS = "solver_status"      # an LP / QP did not reach optimality
    NO_POINT_NO_PROOF = "no_point_no_proof"  # a search found no point and no argument proves there is none
    NOTHING_SEARCHED = "nothing_searched"    # the search had no case meeting the hypotheses


class Severity(_StrEnum):
    """Why a claim fails: on its idea, or only on a literal reading of a hypothesis."""

    SUBSTANTIVE = "substantive"
    LITERAL = "literal"


class PieceClass(_StrEnum):
    """The class of a piece in a landscape."""

    GLOBAL = "global"
    SPURIOUS = "spurious"
    LEAVES_REGION = "leaves_region"
    INCONCLUSIVE = "inconclusive"


class Curvature(_StrEnum):
    """Joint second-order classification of a stationary point (solvers/second_order)."""

    LOCAL_MIN = "local_min"
    SADDLE = "saddle"
    UNDECIDED = "undecided"


class Feasibility(_StrEnum):
    """The answer of a realizability LP."""

    REALIZABLE = "realizable"
    UNREALIZABLE = "unrealizable"
    UNDECIDED = "undecided"


class PressKind(_StrEnum):
    """Which way a pressed region row would move a feature (solvers/acs)."""

    STOP = "stop"      # the feature wants to stop activating the latent
    START = "start"    # the feature wants to start activating the latent
    ORDER = "order"    # another latent wants to overtake the latent for the feature (TopK)


class CertifyStatus(_StrEnum):
    """What the global-optimality certifier proved about a piece or an instance (solvers/certify)."""

    CERTIFIED = "certified"          # a valid lower bound matches the value within rtol (floating point included)
    INCONCLUSIVE = "inconclusive"    # a valid lower bound and a value, but they do not meet; see the reason
    PRUNED = "pruned"                # global mode: the piece's lower bound already exceeds the global value


class CertifyReason(_StrEnum):
    """Why a certificate is inconclusive (or, for PRUNED, why the piece was not solved to rtol)."""

    TIME_LIMIT = "time_limit"
    NODE_LIMIT = "node_limit"
    DEGENERATE_CORNER = "degenerate_corner"          # nodes at a rank drop of the code matrix stay open
    NOT_REALISED = "not_realised"                    # the relaxed optimum has no encoder in the true region
    NOT_HOMOGENEOUS = "not_homogeneous"              # JumpReLU: the scale normalisation is not exact
    UNSUPPORTED = "unsupported"                      # an activation / dimension the reduction does not handle
    INTERVAL_CHECK = "interval_check"                # the gap met rtol in floats but not in interval arithmetic
    CUTOFF = "cutoff"                                # pruned against the global incumbent
