"""Property-based tests (hypothesis) of identifiability: zero-loss sets, the latent permutation and
positive-rescaling symmetries of L~, and what TopK(k = 1) zero loss forces on the decoder."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sdlscape.theory.activations import JumpReLU, TopK, TopKReLU, examples
from sdlscape.theory.constructions import construction_3_3, recovery, zero_loss_decoder
from sdlscape.theory.instance import Instance
from sdlscape.theory.loss import approx_loss, approx_residuals, feature_codes
from sdlscape.verify.thm3_4 import topk1_forced

ACTS = examples()      # every registered activation, at its search parameters


@st.composite
def instances(draw, acts=ACTS):
    n = draw(st.integers(2, 4))
    n_p = draw(st.integers(2, 4))
    n_latents = draw(st.integers(max(2, n - 1), n + 2))
    act = draw(st.sampled_from([a for a in acts if a.min_latents <= n_latents]))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n_p, n))
    M = rng.integers(1, 4, size=n).astype(float)
    return Instance(W_p=W, activation=act, n_latents=n_latents, M=M, normalize=True), rng


@settings(max_examples=40, deadline=None)
@given(instances())
def test_zero_loss_set(data):
    """L~ = 0 exactly when every feature alone is reconstructed (Thm 3.4); W_r Q^+ reaches it when possible."""
    inst, rng = data
    W_E = rng.standard_normal((inst.n_latents, inst.n_p))
    W_D = zero_loss_decoder(inst, W_E)
    if W_D is not None:
        assert approx_loss(inst, W_D, W_E) <= 1e-12
        assert np.abs(approx_residuals(inst, W_D, W_E)).max() <= 1e-6
    W_D2 = W_D + 0.1 if W_D is not None else rng.standard_normal((inst.n_r, inst.n_latents))
    L = approx_loss(inst, W_D2, W_E)
    R = approx_residuals(inst, W_D2, W_E)
    assert (L <= 1e-12) == (np.abs(R).max() <= np.sqrt(1e-12 / inst.M.min()))


@settings(max_examples=40, deadline=None)
@given(instances())
def test_latent_permutation_symmetry(data):
    inst, rng = data
    W_E = rng.standard_normal((inst.n_latents, inst.n_p))
    W_D = rng.standard_normal((inst.n_r, inst.n_latents))
    perm = rng.permutation(inst.n_latents)
    # TopK breaks exact ties by index; random data has no ties
    assert np.isclose(approx_loss(inst, W_D, W_E), approx_loss(inst, W_D[:, perm], W_E[perm]), rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(instances(acts=[a for a in ACTS if a.name in ("relu", "topk_relu")]), st.floats(0.1, 10.0))
def test_positive_rescaling_symmetry_homogeneous(data, c):
    """Positive homogeneity: relu keeps L~ when each encoder row i is scaled by s_i > 0 and decoder column i
    by 1/s_i; for topk_relu only a common scale is a symmetry (different scales can reorder the TopK)."""
    inst, rng = data
    W_E = rng.standard_normal((inst.n_latents, inst.n_p))
    W_D = rng.standard_normal((inst.n_r, inst.n_latents))
    s = np.full(inst.n_latents, c) if inst.activation.name != "relu" else rng.uniform(0.1, 10, inst.n_latents)
    assert np.isclose(approx_loss(inst, W_D, W_E), approx_loss(inst, W_D / s, W_E * s[:, None]), rtol=1e-9)


def test_rescaling_is_not_a_symmetry_for_jumprelu():
    inst = Instance(W_p=np.eye(2), activation=JumpReLU(theta=0.5), n_latents=2)
    W_D, W_E = construction_3_3(inst)
    assert approx_loss(inst, W_D, W_E) == 0.0
    assert approx_loss(inst, W_D * 4, W_E / 4) > 0.5  # codes 1/4 fall below theta


@settings(max_examples=40, deadline=None)
@given(instances(acts=[TopK(k=1), TopKReLU(k=1)]))
def test_topk1_zero_loss_forces_the_decoder(data):
    """TopK(k = 1) at zero loss: w_D^i z_id = w_r^d for each feature's selected latent, so the decoder
    column recovers w_r^d (|cos| = 1), while the encoder row need not."""
    inst, rng = data
    for _ in range(30):
        W_E = rng.standard_normal((inst.n_latents, inst.n_p))
        W_D = zero_loss_decoder(inst, W_E)
        if W_D is None:
            continue
        assert topk1_forced(inst, W_D, W_E)
        rec = recovery(inst, W_D, W_E, tau=1 - 1e-9)
        assert rec["decoder_recovered"] == inst.n
        Q = feature_codes(inst, W_E)
        assert np.all((Q != 0).sum(axis=0) <= 1)


def test_zero_loss_without_recovery_exists_for_relu_with_spare_latents():
    """Non-identifiability (Fig. 4): 4 features in 2-D, relu, zero loss with no feature recovered."""
    from sdlscape.theory.constructions import random_zero_loss

    t = np.radians([0.0, 45.0, 90.0, 135.0])
    inst = Instance(W_p=np.vstack([np.cos(t), np.sin(t)]), activation="relu", n_latents=5)
    found = random_zero_loss(inst, np.random.default_rng(0), tries=600, tau=0.95)
    assert found is not None
    W_D, W_E = found
    assert approx_loss(inst, W_D, W_E) <= 1e-12
    rec = recovery(inst, W_D, W_E, tau=0.95)
    assert rec["encoder_recovered"] == 0 and rec["decoder_recovered"] == 0
