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
"""With a certificate file: every leaf's claimed bound (and so the lower bound) is raised by this times
||R||^2, room for the independent checker's own (interval) evaluation of the same bound. Sized by measurement:
check-certificate reports `least_room`, how far the checker's floor ||R||^2 - (its bound) stays above the piece's
lower bound over every leaf (relative to ||R||^2), so a leaf needed the slack it was given minus that. Over the 17
certificates of results/landscape/issue28 and the 3-latent transcoder, written with 1e-9, the most any leaf needed
was 1.02e-10 (relu_n5_thin, relu_n6_np3_q2_s0: root Ky Fan bounds of pruned pieces on nearly parallel vertex
codes, where the checker's exact-span, interval-Cholesky evaluation is looser than the certifier's floats); most
need < 1e-12. 3e-10 keeps a factor ~3 over that. 1e-9 exceeded the room that branch and bound leaves (it stops at
a gap of 0.5 rtol value) wherever the value is below ~2e-2 ||R||^2 at rtol 1e-7: the 3-latent transcoder (value
0.0392 = 0.0098 ||R||^2) checked VALID but did not certify through its file. A slack too small for some leaf makes
the checker refine or refuse that leaf, never accept a false bound."""
CERTIFY_MIN_RADIUS = 1e-9
"""A node whose rows move less than this (relative) is not split further (a degenerate corner)."""
CERTIFY_INTERIOR_STEPS = 14
"""How many times a boundary minimiser is pushed inward (by 10^-1 .. 10^-14) to find an interior point."""
