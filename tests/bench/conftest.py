"""tests/bench: run torch single-threaded (much faster on a shared 2-core machine), restoring afterwards."""
import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def train_saelens_topk():
    """Train a SAELens TopK SAE with SAELens's own training forward (seeded) and return it:
    train(x, d_sae=, k=, lr=, steps=, unit_decoder=False); unit_decoder renormalizes W_dec's rows each step."""

    def train(x: torch.Tensor, *, d_sae: int, k: int, lr: float, steps: int, unit_decoder: bool = False):
        from sae_lens import TopKTrainingSAE, TopKTrainingSAEConfig
        from sae_lens.saes.sae import TrainStepInput

        torch.manual_seed(0)
        sae = TopKTrainingSAE(TopKTrainingSAEConfig(d_in=x.shape[1], d_sae=d_sae, k=k))
        opt = torch.optim.Adam(sae.parameters(), lr=lr)
        g = torch.Generator().manual_seed(0)
        for _ in range(steps):
            batch = x[torch.randint(0, x.shape[0], (256,), generator=g)]
            out = sae.training_forward_pass(TrainStepInput(sae_in=batch, coefficients={}, dead_neuron_mask=None,
                                                           n_training_steps=0, is_logging_step=False))
            opt.zero_grad()
            out.loss.backward()
            opt.step()
            if unit_decoder:
                with torch.no_grad():
                    sae.W_dec.div_(sae.W_dec.norm(dim=1, keepdim=True))
        return sae

    return train

