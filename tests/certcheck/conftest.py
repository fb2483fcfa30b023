"""Certificates shared by the three-row chart tests (test_three_chart.py, test_three_chart_mutants.py): each is
certified once per session; every test gets its own deep copy to corrupt."""
import copy
import json

import pytest

from sdlscape.cli import main
from sdlscape.theory.instance import save_instance, transcoder_pair

THREE_ROW_EDGE = "[[0,1],[0,2],[1,3]]"     # a three-row edge: b_0 in span{b_1(0), b_2(0)} along x_1 = x_2 = 0
FIXED_ROW = "[[1],[0,2],[1,2,3]]"          # two free rows and a fixed code row (latent 0 on feature 1)


def _certify(folder, pattern):
    inst = folder / "tc3.json"
    save_instance(transcoder_pair(n=4, n_p=2, n_r=3, activation="relu", n_latents=3, seed=0), inst)
    out = folder / "tc3.cert.json"
    assert main(["certify", str(inst), "--pattern", pattern, "--rtol", "1e-5", "--node-limit", "3000",
                 "--certificate", str(out)]) == 0
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def _three_row_certificates(tmp_path_factory):
    return {p: _certify(tmp_path_factory.mktemp("three"), p) for p in (THREE_ROW_EDGE, FIXED_ROW)}


@pytest.fixture
def cert(_three_row_certificates):
    """The transcoder (n = 4, n_r = 3, 3 latents) certified on the three-row-edge piece, --node-limit 3000."""
    return copy.deepcopy(_three_row_certificates[THREE_ROW_EDGE])


@pytest.fixture
def fixed_cert(_three_row_certificates):
    """The same instance on a piece with two free rows and a fixed code row (a constant segment)."""
    return copy.deepcopy(_three_row_certificates[FIXED_ROW])
