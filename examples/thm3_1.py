"""Thm 3.1 (eq. 12) on the paper's smallest setting: 2 orthogonal features, ReLU, p = 1 - S = 0.01.

With independent features |L_SDL - L~| is far below n^2 C (1 - S)^2; with two features that always fire
together (allowed by the theorem's hypotheses, and what Def. 3.2's hierarchies do) L~ = 0 while
L_SDL = p E||x||^2, about 9 times the bound. Then the claim checks: as written and corrected."""
import numpy as np
from _common import show

from sdlscape.theory.instance import orthogonal
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.thm3_1 import cofiring_pair, decide, independent


def main() -> None:
    inst = orthogonal(2, "relu")
    W_E, W_D = np.eye(2), np.zeros((2, 2))   # a valid point: the zero decoder
    for law in (independent(2, 0.01), cofiring_pair(2, 0.01)):
        r = decide(inst, W_D, W_E, law, 4000, np.random.default_rng(0))
        print(f"{law.name:>14}: L_SDL = {r['L_SDL']:.4g} (+-{r['half']:.2g}), L~ = {r['reference']:.4g}, "
              f"bound n^2 C (1-S)^2 in [{r['bound_with_C_lo']:.3g}, {r['bound_with_C_hi']:.3g}] -> {r['verdict'].value}, "
              f"|diff| / bound = {r['ratio_to_bound_hi']:.2f}")
    ctx = Context(budget="quick", instance=inst)
    show(check_function("thm3.1")("relu", ctx))
    show(check_function("thm3.1-corrected")("relu", ctx))


if __name__ == "__main__":
    main()
