"""Every tolerance and margin sdlscape decides with, named, in one place.

A result records the values it used (its `tolerances`), so that a verdict can be re-derived. Relative
tolerances are applied as ``tol * max(1, |reference|)`` unless a docstring says otherwise.
"""
from __future__ import annotations

# -- instances ----------------------------------------------------------------------------------
UNIT_NORM_TOL = 1e-6
"""Columns of W_p / W_r must have norm 1 within this (else an error, or --normalize)."""

# -- regions (eq. 13) ---------------------------------------------------------------------------
MARGIN_EPS = 1e-3
"""Margin of the strict inequalities of a region: a strict a.w < b is enforced as a.w <= b - eps."""
REGION_MEMBERSHIP_TOL = 1e-9
"""Slack a point may lack on a (margin-tightened) region row and still count as inside."""
START_MEMBERSHIP_REL = 1e-8
"""Slack, relative to max |W_E|, a user-given ACS start may lack on a region row (rounding in its file)."""
WITNESS_RECHECK_TOL = 1e-7
"""Slack an LP witness may lack on a region row when it is re-checked."""
FARKAS_TOL = 1e-8
"""Tolerance of the independent re-check of a Farkas certificate (relative to sum |y|)."""
HYPERPLANE_TOL = 1e-9
"""|<w, p>| below this (unit p, unit-scale w) counts as lying on the hyperplane (arrangements)."""

# -- block solves and partial optima -------------------------------------------------------------
SOLVER_TOL = 1e-10
"""Gap and feasibility tolerances passed to Clarabel / OSQP for the block problems."""
BLOCK_GAP_REL = 1e-8
"""A point is a partial optimum when re-solving each block improves L~ by at most this (relative)."""
ACTIVE_ROW_REL = 1e-7
"""A region row is active at W_E when its slack is at most this times max(1, max |W_E|)."""
MULTIPLIER_REL = 1e-7
"""A region row presses when its multiplier exceeds this times max(1, L~)."""
MONOTONE_REL = 1e-9
"""Round-off allowed on a block step that must not increase L~ (relative to max(1, L~))."""
KKT_RESIDUAL_REL = 1e-9
"""Residual allowed in the active-set KKT solve of the encoder block."""

# -- alternating convex search -----------------------------------------------------------------
ACS_TOL = 1e-9
"""ACS stops when the relative decrease of L~ is at most this ..."""
ACS_XTOL = 1e-7
"""... and the relative change of the codes and of W_D is at most this."""

# -- second order ------------------------------------------------------------------------------
HESSIAN_REL = 1e-7
"""Eigenvalues of the projected joint Hessian within this (relative to max |H|) count as zero."""
RANK_REL = 1e-9
"""Singular values below this (relative) are zero when ranks of Jacobians are taken."""
EIGENSPACE_REL = 1e-9
"""Eigenvalues closer than this (relative) belong to one eigenspace (Thm 3.6's K_i)."""

# -- losses and values -------------------------------------------------------------------------
ZERO_LOSS = 1e-12
"""L~ at or below this is zero loss (the global minimum, L~ >= 0)."""
POSITIVE_LOSS = 1e-9
"""A partial optimum "has positive loss" (Thm 3.6) when L~ exceeds this."""
LANDSCAPE_CLASS_TOL = 1e-6
"""A piece is global when its value is within this of the global value (absolute)."""

# -- certificates of global optimality (solvers/certify) -----------------------------------------
CERTIFY_RTOL = 1e-7
"""Default relative gap UB - LB <= rtol * max(UB, atol) at which a value is certified."""
CERTIFY_ATOL = 1e-12
"""Absolute floor of the certification gap (a zero optimum is certified by LB >= -atol)."""
CERTIFY_ROUNDING_FACTOR = 64.0
"""Constant p / (m + k + 1) of the stated SVD backward-error bound ||dB|| <= p u ||B|| (solvers/certify/bounds)."""
CERTIFY_NODE_LIMIT = 50_000
"""Default most branch-and-bound nodes per piece before the certifier stops (status inconclusive, reason
node_limit). The budget is counted in nodes so that one instance gives the same statuses on any machine."""
CERTIFY_SAFETY_SECONDS = 3600.0
"""Default wall-clock safety stop per piece (reason time_limit); a run that needs it is not reproducible."""
CERTIFY_RECORD_SLACK = 3e-10
"""With a certificate file: the most (times ||R||^2) by which a piece's leaf bounds, and so its lower bound, are
raised for the independent checker. The slack itself is sized per piece (certify/record.py: record_slack): after
branch and bound the certifier runs sdlscape.certcheck on the piece's record and measures the checker's floor
min over leaves of ||R||^2 - (the checker's interval bound on phi); the slack is (the certifier's lower bound - that
floor) + CERTIFY_RECORD_MARGIN ||R||^2, floored at 0 and capped here. Below the cap the checker proves the recorded
lower bound on every leaf without refining; at the cap (recorded in the piece's detail["record_slack"]) it must
refine or refuse some leaf, never accept a false bound. The piece's status in the file follows from the lowered
bound, and a piece certified without a file that is not certified with its slack says so (detail). Runs without a
file use no slack. Measured needs: most pieces need none (the checker is at least as tight as the certifier on the
leaf the bound rests on); the most any leaf of results/landscape/issue28's certificates needed was 1.02e-10 ||R||^2
(relu_n5_thin, relu_n6_np3_q2_s0: root Ky Fan bounds of pruned pieces on nearly parallel vertex codes). A fixed
slack of 3e-10 ||R||^2 (the rule before) exceeded the room branch and bound leaves (it stops at a gap of 0.5 rtol
value) wherever the value is below ~6e-3 ||R||^2 at rtol 1e-7 (transcoder_n4_np2_nr2_q3_s0: value 0.0144,
||R||^2 ~ 4, checked VALID but did not certify through its file)."""
CERTIFY_RECORD_MARGIN = 1e-13
"""Margin (times ||R||^2) of the record slack over the checker's measured need (CERTIFY_RECORD_SLACK): covers the
few ulps of ||R||^2 lost reading the need back from the checker's relative room, and float reassociation in the
checker's float steps (eigenvectors, Cholesky) under another BLAS build or thread count."""
CERTIFY_MIN_RADIUS = 1e-9
"""A node whose rows move less than this (relative) is not split further (a degenerate corner)."""
CERTIFY_INTERIOR_STEPS = 14
"""How many times a boundary minimiser is pushed inward (by 10^-1 .. 10^-14) to find an interior point."""
