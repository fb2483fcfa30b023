"""Library calls with impossible arguments raise a clear InputError (issue 25 item 8); the CLI-facing ones are
tested beside their commands (certify_piece budgets in tests/cli/test_certify_cli.py, reproduce(only=) in
tests/cli/test_run_hygiene.py, overflowing laws in tests/theory/test_instance_weights.py)."""
from __future__ import annotations

import pytest

from sdlscape.commands import _common
from sdlscape.commands._common import check_memory, crosscheck_bytes
from sdlscape.errors import InputError
from sdlscape.theory.instance import Instance
from sdlscape.theory.patterns import Pattern


def test_zero_latent_pattern_refused():
    with pytest.raises(InputError, match="at least one latent"):
        Pattern.parse([], 2, 0)
    with pytest.raises(InputError):
        Pattern((), 2)
    with pytest.raises(InputError):
        Pattern((frozenset({0}),), 0)
    assert Pattern.parse([[0], []], 2, 2).n_latents == 2


def test_memory_estimate_refuses_what_does_not_fit(monkeypatch):
    inst = Instance(W_p=[[1.0, 0.0], [0.0, 1.0]], activation="relu", n_latents=2)
    monkeypatch.setattr(_common, "available_memory", lambda: 10 * 2 ** 20)
    check_memory(crosscheck_bytes(inst, 100), "--starts 100")
    with pytest.raises(InputError, match=r"--starts 1000000000 needs about .* TiB"):
        check_memory(crosscheck_bytes(inst, 10 ** 9), "--starts 1000000000")
    monkeypatch.setattr(_common, "available_memory", lambda: None)     # unknown: not refused
    check_memory(crosscheck_bytes(inst, 10 ** 9), "--starts 1000000000")


def test_available_memory_is_positive():
    have = _common.available_memory()
    assert have is None or have > 0
