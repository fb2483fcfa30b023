"""Thm 3.8 on examples/thm3.8-angles.json (4 features in 2-D at 0, 100, 200, 300 degrees, two parents):
ReLU cannot split a sub-concept off its parent (each is in the cone of the other features); JumpReLU can.
The corrected statement (cones of features) predicts each split."""
from _common import HERE, show

from sdlscape.theory.activations import JumpReLU
from sdlscape.theory.instance import load_instance
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.thm3_8 import separated


def main() -> None:
    inst = load_instance(HERE / "thm3.8-angles.json")
    for j in range(inst.n):
        print(f"feature {j} separated from the others (not in their cone): {separated(inst.W_p, [j], set(range(4)) - {j})}")
    show(check_function("thm3.8")("relu", Context(instance=inst)))
    show(check_function("thm3.8")("jumprelu", Context(instance=inst.with_(activation=JumpReLU(theta=0.5)))))
    show(check_function("thm3.8-corrected")("relu", Context(instance=inst)))


if __name__ == "__main__":
    main()
