"""The certified global minimum against an independent peer: many-start joint L-BFGS on the SDL loss.

The peer knows nothing of pieces, regions or variable projection: it minimises
f(W_E, W_D) = sum_d M_d || w_r^d - W_D sigma(W_E w_p^d) ||^2 (sigma the instance's activation; the
passed codes are the firing ones, Def. 3.1) jointly over both matrices from random starts. Every value
it reaches is L~ at some point, so it can never go below a valid certified lower bound; and on these
small instances its best must come down to the certified value (an infimum, possibly on a boundary).
"""
import numpy as np
import pytest
from scipy.optimize import minimize

from sdlscape.solvers.certify import certify_global
from sdlscape.theory.activations import ReLU, TopKReLU
from sdlscape.theory.instance import random_unit, transcoder_pair

PEER_STARTS = 80
AGREE_RTOL = 2e-7          # the certificate's rtol (1e-7) plus the peer's own convergence slack
SLACK = 1e-12              # float slack of the peer's loss evaluation


def joint_lbfgs(inst, starts: int, seed: int) -> float:
    """Least loss over `starts` L-BFGS runs on (W_E, W_D) jointly (analytic gradient of the smooth branch)."""
    act, q, n_p, n_r, M = inst.activation, inst.n_latents, inst.n_p, inst.n_r, inst.M

    def f(x):
        W_E, W_D = x[:q * n_p].reshape(q, n_p), x[q * n_p:].reshape(n_r, q)
        Z = W_E @ inst.W_p
        P = np.asarray(act.passes(Z, axis=0)) & (Z > 0)
        C = np.where(P, Z, 0.0)
        res = inst.W_r - W_D @ C
        RM = res * M
        gD = -2.0 * RM @ C.T
        gE = np.where(P, -2.0 * W_D.T @ RM, 0.0) @ inst.W_p.T
        return float(np.sum(M * np.sum(res * res, axis=0))), np.concatenate([gE.ravel(), gD.ravel()])

    rng = np.random.default_rng(seed)
    best = np.inf
    for _ in range(starts):
        x0 = rng.standard_normal(q * n_p + n_r * q)
        r = minimize(f, x0, jac=True, method="L-BFGS-B", options={"maxiter": 3000, "gtol": 1e-12, "ftol": 1e-15})
        best = min(best, float(r.fun))
    return best


CASES = {
    "relu_n4_q2": lambda: random_unit(4, 2, ReLU(), n_latents=2, seed=0),
    "relu_n4_q2_s4": lambda: random_unit(4, 2, ReLU(), n_latents=2, seed=4),
    "topk_relu_n4_q2": lambda: random_unit(4, 2, TopKReLU(k=1), n_latents=2, seed=3),
    "relu_transcoder": lambda: transcoder_pair(3, 2, 3, ReLU(), n_latents=2, seed=4),
}


@pytest.fixture(scope="module")
def certified():
    return {name: (make(), certify_global(make(), node_limit=20_000)) for name, make in CASES.items()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_certified_global_equals_many_start_joint_lbfgs(certified, name):
    inst, g = certified[name]
    assert g.certified, f"{name}: not certified (value {g.value}, lower {g.lower_bound})"
    assert g.value > 1e-3, "the comparison is meant for a non-zero optimum"
    peer = joint_lbfgs(inst, PEER_STARTS, seed=0)
    assert peer >= g.lower_bound - SLACK, f"{name}: the peer reached {peer} below the certified bound {g.lower_bound}"
    assert abs(peer - g.value) <= AGREE_RTOL * g.value + SLACK, f"{name}: peer {peer} vs certified {g.value}"


def test_a_global_run_that_misses_the_minimising_piece_is_caught_by_the_peer(certified):
    """Deliberately false variant: certify over every piece but the minimiser's. The run still 'certifies'
    its (smaller) piece set, and the comparison above must reject it."""
    from sdlscape.solvers.landscape import enumerate_pieces

    inst, g = certified["relu_n4_q2"]
    best = g.minimiser.pattern.canonical()
    others = [s.pattern for s in enumerate_pieces(inst) if s.pattern.canonical() != best]
    values = {str(c.pattern): c.value for c in g.pieces if c.value is not None}
    ties = [k for k, v in values.items() if k != str(best) and abs(v - g.value) <= AGREE_RTOL * g.value]
    others = [p for p in others if str(p.canonical()) not in ties]
    wrong = certify_global(inst, node_limit=20_000, patterns=others)
    peer = joint_lbfgs(inst, PEER_STARTS, seed=0)
    assert wrong.value is not None and wrong.value > g.value
    assert not abs(peer - wrong.value) <= AGREE_RTOL * wrong.value + SLACK
    assert peer < wrong.lower_bound - SLACK or peer < wrong.value - AGREE_RTOL * wrong.value


def test_pattern_subset_is_reported_over_those_pieces_only():
    from sdlscape.solvers.landscape import enumerate_pieces

    inst = random_unit(4, 2, ReLU(), n_latents=2, seed=0)
    pat = enumerate_pieces(inst)[-1].pattern
    g = certify_global(inst, node_limit=20_000, patterns=[pat])
    assert [str(c.pattern) for c in g.pieces] == [str(pat)]
