"""Every counterexample the verifier reports re-checks as one by an independent route."""
from sdlscape.theory import instance as I
from sdlscape.theory.activations import JumpReLU, ReLU, TopK, TopKReLU
from sdlscape.verify.claims import Context, check_function
from sdlscape.verify.claims_absorb import angles_instance
from sdlscape.verify.claims_families import obtuse
from sdlscape.verify.claims_recheck import recheck


def test_reported_counterexamples_recheck(tmp_path):
    cases = [("thm3.1", "jumprelu", I.orthogonal(2, JumpReLU(theta=0.5))),
             ("thm3.3", "jumprelu", I.orthogonal(2, JumpReLU(theta=1.5))),
             ("thm3.3", "topk", obtuse(3, 0.1, TopK(k=2))),
             ("thm3.6", "topk_relu", I.orthogonal(3, TopKReLU(k=1), M=[1.0, 1.0, 3.0])),
             ("thm3.8", "relu", angles_instance([0, 100, 200, 300], [[0, 1], [2, 3]], ReLU(), "a"))]
    failed = 0
    for claim, act, inst in cases:
        res = check_function(claim)(act, Context(instance=inst, counterexample_dir=tmp_path)).to_dict()
        if res["status"] != "fails":
            continue
        failed += 1
        assert isinstance(res["counterexample"]["instance"], str)  # saved as an instance file
        ok, detail = recheck(res)
        assert ok, (claim, act, detail)
    assert failed == len(cases)
    assert len(list(tmp_path.glob("*.json"))) == len(cases)  # one instance file per (claim, activation)
