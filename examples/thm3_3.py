"""Thm 3.3 (eq. 16): the construction [W_r, 0], [W_p^T; 0] on features in superposition (ReLU: holds), and
on an obtuse dictionary with plain TopK(2), where a negative interference is passed: a literal failure
(the bound uses the signed M); with |M| the natural reading holds."""
from _common import show

from sdlscape.theory.activations import TopK
from sdlscape.theory.instance import superposed
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.search import obtuse
from sdlscape.verify.thm3_3 import decide


def main() -> None:
    for inst in (superposed(5, 3, 0.4, "relu", seed=0), obtuse(3, 0.1, TopK(k=2))):
        r = decide(inst)
        print(f"{inst.name} {inst.activation}: L~ = {r['L_approx']:.4g}, n^2 M^2 sum M_d = {r['bound']:.4g}, "
              f"natural bound (|M|) = {r['natural_bound']:.4g}")
        show(check_function("thm3.3")(inst.activation.name, Context(instance=inst)))


if __name__ == "__main__":
    main()
