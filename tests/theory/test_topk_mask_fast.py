"""topk_mask's comparison path for a short axis (theory/activations/array_ops.py) keeps the stable sort's order."""
import numpy as np
import pytest
import torch

from sdlscape.theory.activations import array_ops as ops


def _by_sort(Z, k, axis):
    order = torch.sort(-Z, dim=axis, stable=True).indices.narrow(axis, 0, k)
    return torch.zeros_like(Z, dtype=torch.bool).scatter_(axis, order, True)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_short_axis_masks_equal_the_stable_sorts_with_ties_signed_zeros_and_infinities(axis, dtype):
    g = torch.Generator().manual_seed(1)
    for q in range(1, ops.SMALL_AXIS + 1):
        shape = [5, 6, 7]
        shape[axis] = q
        Z = torch.randint(-2, 3, shape, generator=g).to(dtype)     # many ties
        Z[Z == 2] = float("inf")
        Z[Z == -2] = -0.0
        for k in range(1, q + 1):
            got = ops.topk_mask(Z, k, axis)
            assert torch.equal(got, _by_sort(Z, k, axis)), (q, k)
            assert torch.equal(got.sum(axis), torch.full_like(got.sum(axis), k))
            assert np.array_equal(got.numpy(), ops.topk_mask(Z.numpy(), k, axis))     # the NumPy rule agrees


def test_ties_go_to_the_lower_index_and_nan_takes_the_sort_path():
    Z = torch.tensor([[1.0, 3.0, 3.0, 0.0]])
    assert ops.topk_mask(Z, 1, axis=1).tolist() == [[False, True, False, False]]
    Zn = torch.tensor([[float("nan"), 1.0, 2.0]])
    assert torch.equal(ops.topk_mask(Zn, 1, axis=1), _by_sort(Zn, 1, 1))
