"""Bench scales that keep the paper's regime, and the defaults of the paper's tables (paper units).

``paper``: n = 1000, n_p = n_r = 768, n_latents = 16000, N = 100,000, 100 anchors, k = 128.
``medium`` (n = 250, n_p = 192, n_latents = 4000, k = 32) and ``small`` (CI-sized: n = 50, n_p = 38,
n_latents = 800, k = 6) divide n, n_p, n_latents and the anchors by 4 and 20 and keep every ratio of
the paper's regime: p_active (0.01, unchanged, so the expected number of active features
L0* = n p_active is 10 / 2.5 / 0.5), L0*/n_p (0.013), n/n_p (1.3), n_latents/n (16), M and
k/L0* (128/10 = 12.8: k = 32 at medium, round(6.4) = 6 at small).  N = 100,000 at every scale, so
each feature is active in N p_active = 1000 samples as in the paper.  Every swept value (Tables 4-7)
is scaled the same way (n and k by the size factor, p_active and M unchanged).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

DEFAULTS = {"n": 1000, "p_active": 0.01, "M": 0.1, "k": 128, "anchor_coef": 0.1}
PAPER = {"n": 1000, "n_p": 768, "n_latents": 16000, "k": 128}
TARGET_L0_FACTOR = 1.0   # calibrated codes: target L0 = factor * n * p_active (stated in every table)


@dataclass(frozen=True)
class Scale:
    name: str
    factor: int            # paper sizes / this scale's sizes (n, n_p, n_latents, anchors, k)
    n: int
    n_p: int
    n_latents: int
    n_samples: int
    n_anchors: int
    steps: int
    batch_size: int
    lr: float
    seeds: int             # training seeds (and benches) per row
    n_eval: int = 4096

    def k(self, k_paper: int) -> int:
        return max(1, round(k_paper / self.factor))

    def n_of(self, n_paper: int) -> int:
        return max(2, round(n_paper / self.factor))

    def regime(self) -> dict:
        """The ratios this scale keeps, at the default row (stated in every table header)."""
        p = DEFAULTS["p_active"]
        l0 = self.n * p
        return {"scale": self.name, "n": self.n, "n_p": self.n_p, "n_latents": self.n_latents,
                "k": self.k(DEFAULTS["k"]), "p_active": p, "expected_L0": l0, "L0_over_n_p": l0 / self.n_p,
                "n_over_n_p": self.n / self.n_p, "n_latents_over_n": self.n_latents / self.n,
                "k_over_L0": self.k(DEFAULTS["k"]) / l0, "M": DEFAULTS["M"], "N": self.n_samples,
                "occurrences_per_feature": self.n_samples * p, "seeds": self.seeds,
                "target_L0_factor": TARGET_L0_FACTOR}

    def regime_text(self) -> str:
        r = self.regime()
        return (f"{self.name}: n={r['n']}, n_p={r['n_p']}, n_latents={r['n_latents']}, k={r['k']}, "
                f"p_active={r['p_active']}, L0*=n p={r['expected_L0']:g}, L0*/n_p={r['L0_over_n_p']:.3f}, "
                f"n/n_p={r['n_over_n_p']:.2f}, n_latents/n={r['n_latents_over_n']:g}, k/L0*={r['k_over_L0']:.1f}, "
                f"M={r['M']}, N={r['N']}, {self.seeds} seed(s); calibrated codes target L0 = "
                f"{TARGET_L0_FACTOR:g} x n p_active (paper: n=1000, n_p=768, n_latents=16000, k=128, "
                f"L0*=10, k/L0*=12.8)")

    def as_dict(self) -> dict:
        return asdict(self)


SCALES = {
    "paper": Scale("paper", 1, 1000, 768, 16000, 100_000, 100, steps=10_000, batch_size=1024, lr=1e-3, seeds=1),
    "medium": Scale("medium", 4, 250, 192, 4000, 100_000, 25, steps=6000, batch_size=512, lr=1e-3, seeds=3),
    "small": Scale("small", 20, 50, 38, 800, 100_000, 5, steps=3000, batch_size=128, lr=3e-3, seeds=3),
}
