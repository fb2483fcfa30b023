"""Thm 3.2 (piecewise biconvexity) on Example 3.5's shape with plain TopK(1): under Def. 3.1 two encoders
with the same pattern (a feature whose codes are all negative still passes one of them) break convexity in
W_E; in the selection reading (the linear pieces) the claim holds."""
from _common import show

from sdlscape.outcomes import Reading
from sdlscape.theory.activations import TopK
from sdlscape.theory.instance import orthogonal
from sdlscape.verify.claims import Context, check_function


def main() -> None:
    ctx = Context(budget="quick", instance=orthogonal(2, TopK(k=1)))
    for reading in (Reading.DEF_3_1, Reading.SELECTION):
        res = check_function("thm3.2")("topk", ctx, reading)
        show(res)
        print(f"  worst relative chord excess {res.evidence['worst_chord_excess_rel']:.3g} over {res.evidence['chords']} chords")


if __name__ == "__main__":
    main()
