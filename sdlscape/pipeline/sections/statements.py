"""The paper's statements as the report quotes them, and the corrected statements the checks test, in words.

Quotes are short excerpts of ../shared/spec/PAPER.md Sec. 2 (the paper's wording restated there); the
corrected statements say in words what verify/thm3_1.py, thm3_6.py and thm3_8.py check (their docstrings
give the full statement). This is text about what is checked, never a verdict: verdicts come from results.
"""
from __future__ import annotations

NAMES = {"thm3.1": "Thm 3.1 (loss approximation)", "thm3.2": "Thm 3.2 (piecewise biconvexity)",
         "thm3.3": "Thm 3.3 (constructive near-global minimum)", "thm3.4": "Thm 3.4 (zero loss)",
         "ex3.5": "Example 3.5 (a spurious partial minimum)",
         "thm3.6": "Thm 3.6 (prevalence of spurious partial minima)", "thm3.8": "Thm 3.8 (feature absorption)"}

QUOTES = {
    "thm3.1": "With C = sup_s (per-sample squared error) < inf and (1 - S) <= 1/n, "
              "| L_SDL - L~ | <= n^2 C (1 - S)^2 (eq. 12)",
    "thm3.2": "L~ is convex in W_D for fixed W_E, and convex in W_E over Omega_P for fixed W_D",
    "thm3.3": "If n_q >= n and eq. 10 holds, then W_D* = [W_r, 0], W_E* = [W_p^T; 0] satisfies "
              "L~(W_D*, W_E*) <= n^2 M^2 sum_d M_d (eq. 16)",
    "thm3.4": "L~ = 0 iff w_r^d = W_D sigma(W_E w_p^d) for every d; for n_q > n zero loss is reached by many "
              "(W_D, W_E), some of which recover no ground-truth feature",
    "ex3.5": "W_E* = [[1, 1], [0, 0]], W_D* = [[1/2, 0], [1/2, 0]] is a partial optimum with L~ = 1 > 0",
    "thm3.6": "for every activation pattern P that is realizable, polysemantic and a partition of [n], there "
              "exists a partial minimum of L~ exhibiting P with positive loss",
    "thm3.8": "if P = (F_1..F_M) is realizable then for every parent i* some sub-concept j* can be split off "
              "(P' realizable)",
}

CORRECTED = {
    "thm3.1": "if every pair of features co-fires with probability at most (1 - S)^2 (independent features do; "
              "a parent and its children do not), then | L_SDL - L1 | <= n(n-1)/2 C (1 - S)^2, where L1 is the "
              "one-active-feature term: L1 = L~ for positively homogeneous activations (ReLU, TopK), and its "
              "closed form for JumpReLU, whose threshold makes L1 differ from L~ to first order in 1 - S",
    "thm3.6": "on a partition piece on which sigma passes nothing outside the pattern (plain TopK can pass a "
              "latent's non-positive codes; there L~ does not decouple by latent and the statement says nothing), "
              "a partial optimum exhibiting P exists when, for every live latent, the "
              "matrix K_i = M^1/2 (W_r^T W_r)_{F_i} M^1/2 has an eigenvector in the open positive orthant and "
              "the codes it gives are jointly realizable in the region (an LP), and, where each latent's features "
              "are linearly independent, only then; where the region only orders the codes (plain TopK, "
              "selection reading), a latent selected with codes exactly 0 and a zero decoder column is also a "
              "partial optimum (loss sum_d M_d > 0), and 'only then' does not apply where such a point exists",
    "thm3.8": "for ReLU-type regions, sub-concept j of a parent can be split off if and only if j and its "
              "siblings are each separated from the other features (j is outside the cone of the others, and "
              "its siblings' cone meets the cone of the rest only at 0); for JumpReLU, whose threshold gives "
              "the proof's constant c > 0, the statement as written",
}


def base(claim: str) -> str:
    """'thm3.6-corrected' -> 'thm3.6'."""
    return claim.removesuffix("-corrected")
