"""Every deliberately false variant of the thm3.6 / thm3.8 checks fails for every activation and reading (issue 23)."""
import numpy as np
import pytest

from sdlscape.outcomes import Reading, Status
from sdlscape.theory.activations import ReLU
from sdlscape.theory.instance import Instance
from sdlscape.verify.claims import Context, check_function, readings_for
from sdlscape.verify.search import recheck
from sdlscape.verify.thm3_6 import sign_blind_criterion
from sdlscape.verify.thm3_8 import angles_instance

ACTS = ["relu", "jumprelu", "topk", "topk_relu"]
# sub-concept 60 deg lies in the cone of its siblings 0 and 120 deg (and between them on the circle): under
# every activation it cannot be split off alone, while 0 and 120 can
BETWEEN = angles_instance([0, 60, 120, 270], [[0, 1, 2], [3]], ReLU(), "between")
# W_p = I, <w_r^0, w_r^1> = -0.6: K's top eigenvector is (1, -1): the sign-blind point has a code -1 on feature 1,
# outside every reading's region (a negative code, or a tie with the dead latent's -1 under plain TopK(1)'s
# selection reading, where signs are free and the rule would otherwise agree with the corrected criterion)
NEGCORR = Instance(W_p=np.eye(2), W_r=np.array([[1.0, -0.6], [0.0, 0.8]]), activation=ReLU(), n_latents=2,
                   name="negatively-correlated")


def _ctx(inst):
    return Context(budget="quick", seed=0, instance=inst)


# (claim, instance, the false variant's keyword, the statuses the true check may give there; None: the statement
# as written, whose counterexample is re-checked instead)
FALSE_VARIANTS = [("thm3.8", BETWEEN, {"every": True}, None),
                  ("thm3.8-corrected", BETWEEN, {"flip": True}, {Status.HOLDS}),
                  ("thm3.6-corrected", NEGCORR, {"rule": sign_blind_criterion}, set(Status) - {Status.FAILS})]


@pytest.mark.slow
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("claim, inst, variant, true_statuses", FALSE_VARIANTS,
                         ids=["thm3_8_every", "thm3_8_corrected_flip", "thm3_6_sign_blind_rule"])
def test_false_variant_fails(claim, inst, variant, true_statuses, act):
    (name,) = variant
    for reading in readings_for(claim, act):
        res = check_function(claim)(act, _ctx(inst), reading, **variant)
        assert res.status is Status.FAILS and res.rests_on == (f"false variant: {name}",), (act, reading)
        if true_statuses is None:
            assert recheck(res.to_dict())[0]
        else:
            assert check_function(claim)(act, _ctx(inst), reading).status in true_statuses


def test_readings_cover_topk_selection():
    assert readings_for("thm3.8", "topk") == (Reading.DEF_3_1, Reading.SELECTION)
