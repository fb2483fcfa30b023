"""Thm 3.6 on examples/thm3.6-mixed-weights.json (3 orthogonal features, weights M = (1, 1, 3), ReLU):
every partition pattern is searched; those that put the heavy feature with another one have no partial
minimum inside their region (no positive eigenvector of K_i). The corrected criterion agrees with the judges."""
from _common import HERE, show

from sdlscape.theory.instance import load_instance
from sdlscape.verify.claims import Context, check_function


def main() -> None:
    ctx = Context(instance=load_instance(HERE / "thm3.6-mixed-weights.json"))
    res = check_function("thm3.6")("relu", ctx)
    print("verdicts per pattern:", {tuple(map(tuple, r["pattern"])): r["verdict"] for r in res.evidence["records"]})
    show(res)
    cor = check_function("thm3.6-corrected")("relu", ctx)
    print(f"criterion: {cor.evidence['criterion']}, disagreements with the judges: {cor.evidence['disagreements']}")
    show(cor)


if __name__ == "__main__":
    main()
