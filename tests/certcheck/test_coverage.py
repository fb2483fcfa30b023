"""Pattern coverage (sdlscape.certcheck.coverage): a global certificate must have a piece for every activation pattern
whose region has interior, decided from the instance alone in exact arithmetic.

The deleted-piece mutants must fail naming the pattern; the committed certificates cover every pattern; the exact
enumeration agrees with sampled encoders (read in exact rationals from the activation's definition) and is
contained in the certifier's own enumeration (solvers/landscape_enum.py, which the checker never imports).
"""
import copy
import gzip
import itertools
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from sdlscape.certcheck import Verdict, check, check_coverage
from sdlscape.certcheck.coverage import key, missing_patterns, required_patterns, strictly_feasible

ROOT = Path(__file__).resolve().parents[2] / "results" / "landscape" / "issue28"
COMMITTED = sorted(p.name for p in ROOT.glob("*.cert.json.gz"))
FAST = ["relu_n4_np2_q3_s0", "topk2_n4_np2_q3_s0", "topk2_n4_np3_q3_s0", "topk1_transcoder_n5_nr3_s1"]


def _load(name: str) -> dict:
    return json.loads(gzip.decompress((ROOT / f"{name}.cert.json.gz").read_bytes()).decode())


def _coverage(cert: dict) -> Verdict:
    v = Verdict(valid=True)
    check_coverage(cert, v)
    return v


def test_the_committed_certificates_are_there():
    assert len(COMMITTED) >= 20


@pytest.mark.parametrize("name", COMMITTED)
def test_every_committed_certificate_covers_every_pattern(name):
    cert = _load(name.removesuffix(".cert.json.gz"))
    missing, need, calls = missing_patterns(cert)
    assert missing == [] and need >= 2 and calls >= 1, (missing, need, calls)
    assert _coverage(cert).valid


@pytest.mark.parametrize("name", FAST)
def test_a_deleted_piece_fails_the_checker_naming_it(name):
    """Drop the first piece whose pattern has interior: check() was VALID and now fails, on that pattern only."""
    cert = _load(name)
    assert check(copy.deepcopy(cert)).valid
    need, _ = required_patterns(cert["instance"])
    j = next(j for j, p in enumerate(cert["pieces"]) if key(p["pattern"]) in need)
    gone = cert["pieces"].pop(j)
    v = check(cert)
    assert not v.valid
    label = json.dumps([list(F) for F in key(gone["pattern"])], separators=(",", ":"))
    assert v.failures == [f"pattern {label}: its region has interior (exact LP) but the certificate has no piece for "
                          "it (the global lower bound does not cover it)"], v.failures


@pytest.mark.parametrize("name", ["relu_n4_np3_q2_s0", "relu_n6_np3_q2_s0", "topkrelu1_n5_q3_s0",
                                  "transcoder_n5_nr2_s0"])
def test_every_deleted_piece_is_named(name):
    """Each required piece of the certificate deleted in turn: the coverage check names exactly that pattern."""
    cert = _load(name)
    need, _ = required_patterns(cert["instance"])
    pieces = cert["pieces"]
    hit = 0
    for j in range(0, len(pieces), max(1, len(pieces) // 4)):
        if key(pieces[j]["pattern"]) not in need:
            continue
        cut = {**cert, "pieces": pieces[:j] + pieces[j + 1:]}
        missing, _, _ = missing_patterns(cut)
        assert missing == [[list(F) for F in key(pieces[j]["pattern"])]]
        assert not _coverage(cut).valid
        hit += 1
    assert hit >= 2


def test_a_piece_without_interior_may_be_left_out():
    """relu_n4_antipodal lists 36 pieces, 21 of them with interior: the others (one-ray cells of the antipodal
    features, lower-dimensional) are limits of full-dimensional ones (ReLU is continuous) and need no piece."""
    cert = _load("relu_n4_antipodal")
    need, _ = required_patterns(cert["instance"])
    assert len(need) == 21 and len(cert["pieces"]) == 36
    extra = [p for p in cert["pieces"] if key(p["pattern"]) not in need]
    assert len(extra) == 15
    cut = {**cert, "pieces": [p for p in cert["pieces"] if key(p["pattern"]) in need]}
    assert _coverage(cut).valid


def test_piece_mode_and_the_zero_loss_shortcut_claim_no_coverage():
    cert = _load("topk2_n4_np2_q3_s0")
    v = _coverage({**cert, "mode": "piece", "pieces": cert["pieces"][:1]})
    assert v.valid and v.coverage is None and "no coverage" in v.notes[0]
    v = _coverage({**cert, "pieces": []})
    assert v.valid and v.coverage is None


def test_an_unknown_activation_is_not_passed():
    cert = _load("topk2_n4_np2_q3_s0")
    cert["instance"]["activation"] = {"name": "gated"}
    v = _coverage(cert)
    assert not v.valid and "pattern coverage not decided" in v.failures[0]


# -- the exact decision -----------------------------------------------------------------------------

def _F(rows):
    return [[Fraction(x) for x in r] for r in rows]


@pytest.mark.parametrize("rows, feasible", [
    ([], True),
    ([[1, 0], [0, 1]], True),
    ([[1, 0], [-1, 0]], False),                       # opposite rows
    ([[1, 0], [-1, 1]], True),
    ([[1, 1], [-1, 0], [0, -1]], False),              # 1 (1,1) + 1 (-1,0) + 1 (0,-1) = 0
    ([[1, 0], [-1, Fraction(1, 10**30)]], True),      # a very thin cone
    ([[0, 0]], False),
    ([[2, -1, 0], [-1, 2, -1], [0, -1, 2], [-1, -1, -1]], False),
    ([[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, -1, Fraction(21, 10)]], True),
])
def test_strict_feasibility_is_decided_exactly(rows, feasible):
    assert strictly_feasible(_F(rows)) is feasible


def test_strict_feasibility_agrees_with_random_witnesses():
    """Rows = sign-flipped random vectors: feasible iff some sampled y is strictly positive on all of them (sampling
    finds a witness for every feasible case at this seed: the cones are wide)."""
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(20000, 2))
    seen = {True: 0, False: 0}
    for _ in range(40):
        R = rng.normal(size=(4, 2)) * rng.choice([-1, 1], size=(4, 1))
        rows = [[Fraction(float(x)) for x in r] for r in R]
        sampled = bool(np.any(np.all(Y @ R.T > 1e-9, axis=1)))
        got = strictly_feasible(rows)
        seen[got] += 1
        assert got is sampled, R         # no cone thinner than the sampling resolution at this seed
    assert seen[True] >= 5 and seen[False] >= 5


def _exact_patterns(W_E, W_p, name, k, theta):
    """The pattern of W_E read in exact rationals from the activation's definition; None at a tie or a zero code
    (not in the interior of any region)."""
    Z = [[sum(Fraction(float(w[r])) * Fraction(float(W_p[r, d])) for r in range(W_p.shape[0]))
          for d in range(W_p.shape[1])] for w in W_E]
    q, n = len(Z), len(Z[0])
    th = Fraction(float(theta))
    sets = [[] for _ in range(q)]
    for d in range(n):
        col = [Z[i][d] for i in range(q)]
        if any(c == th for c in col) or (name != "topk" and any(c == 0 for c in col)):
            return None
        if name in ("relu", "jumprelu"):
            fired = [i for i in range(q) if col[i] > th]
        else:
            order = sorted(range(q), key=lambda i: -col[i])
            kk = min(k, q)
            if kk < q and col[order[kk - 1]] == col[order[kk]] and (name == "topk" or col[order[kk]] > 0):
                return None                  # a tie at the k-th code (TopK o ReLU: among positive codes)
            fired = [i for i in order[:kk] if name == "topk" or col[i] > 0]
        for i in fired:
            sets[i].append(d)
    return key(sets)


CASES = [("relu", 0, 4, 2, 2), ("relu", 0, 5, 3, 2), ("jumprelu", 0, 4, 2, 2), ("jumprelu", 0, 4, 3, 2),
         ("topk", 1, 4, 2, 2), ("topk", 2, 4, 2, 3), ("topk", 2, 4, 3, 3), ("topk_relu", 1, 4, 2, 3),
         ("topk_relu", 2, 4, 3, 3)]


@pytest.mark.parametrize("name, k, n, n_p, q", CASES)
def test_the_required_patterns_are_the_sampled_ones(name, k, n, n_p, q):
    """Every pattern of a sampled encoder is required, and every required pattern is sampled (wide cones at these
    seeds): the exact enumeration is neither too small (unsound) nor too large. relu / jumprelu latents are
    independent (the required patterns are multisets of cells): one latent is sampled."""
    q = 1 if name in ("relu", "jumprelu") else q
    rng = np.random.default_rng(7)
    W_p = rng.normal(size=(n_p, n))
    W_p /= np.linalg.norm(W_p, axis=0)
    theta = 0.3 if name == "jumprelu" else 0.0
    act = {"name": name, **({"k": k} if k else {}), **({"theta": theta} if theta else {})}
    need, _ = required_patterns({"W_p": W_p.tolist(), "activation": act, "n_latents": q})
    seen = set()
    scale = 3.0 if name == "jumprelu" else 1.0
    for _ in range(4000):
        p = _exact_patterns(rng.normal(size=(q, n_p)) * scale, W_p, name, k, theta)
        if p is not None:
            seen.add(p)
    assert seen <= need, sorted(seen - need)
    for p in need - seen:            # a thin region that sampling missed: a float LP's witness, read back exactly
        W = _witness(W_p, p, name, k, theta)
        assert W is not None and _exact_patterns(W, W_p, name, k, theta) == p, p


def _witness(W_p, sets, name, k, theta):
    """An encoder (latent i gets sets[i]) meeting the pattern's inequalities with margin 1, by scipy's LP (in the
    test only), or None."""
    from scipy.optimize import linprog

    q, (n_p, n) = len(sets), W_p.shape
    rows, rhs = [], []                                   # rows . vec(W) <= rhs

    def add(coef, bound):
        r = np.zeros(q * n_p)
        for i, c in coef.items():
            r[i * n_p:(i + 1) * n_p] += c * W_p[:, d]
        rows.append(r)
        rhs.append(bound)

    for d in range(n):
        S = [i for i in range(q) if d in sets[i]]
        rest = [j for j in range(q) if j not in S]
        if name in ("relu", "jumprelu"):
            for i in S:
                add({i: -1.0}, -theta - 1.0)
            for j in rest:
                add({j: 1.0}, theta - 1.0)
            continue
        if name == "topk_relu":
            for i in S:
                add({i: -1.0}, -1.0)
            if len(S) < k:
                for j in rest:
                    add({j: 1.0}, -1.0)
                continue
        for i in S:
            for j in rest:
                add({i: -1.0, j: 1.0}, -1.0)
    res = linprog(np.zeros(q * n_p), A_ub=np.array(rows), b_ub=np.array(rhs), bounds=(None, None), method="highs")
    if res.status != 0:
        return None
    return res.x.reshape(q, n_p) + 1e-6 * np.random.default_rng(0).normal(size=(q, n_p))   # margin 1: no zero codes


@pytest.mark.parametrize("name, k, n, n_p, q", CASES)
def test_the_required_patterns_are_among_the_certifiers_pieces(name, k, n, n_p, q):
    """The certifier's enumeration (solvers/landscape_enum, LPs in floats) lists every pattern the checker requires."""
    from sdlscape.solvers.landscape_enum import enumerate_pieces
    from sdlscape.theory.instance import Instance

    rng = np.random.default_rng(7)
    W_p = rng.normal(size=(n_p, n))
    W_p /= np.linalg.norm(W_p, axis=0)
    act = {"name": name, **({"k": k} if k else {}), **({"theta": 0.3} if name == "jumprelu" else {})}
    inst = Instance.from_dict({"W_p": W_p.tolist(), "M": [1.0] * n, "activation": act, "n_latents": q})
    pieces = {key(s.pattern.to_json()) for s in enumerate_pieces(inst)}
    need, _ = required_patterns({"W_p": W_p.tolist(), "activation": act, "n_latents": q})
    assert need <= pieces, sorted(need - pieces)


def test_symmetric_latents_are_enumerated_once_per_class():
    """topk k = 1 with 3 latents on 2 features: every assignment of features to latents, up to relabelling."""
    W_p = np.eye(2)
    need, _ = required_patterns({"W_p": W_p.tolist(), "activation": {"name": "topk", "k": 1}, "n_latents": 3})
    want = {key(s) for s in ([[0, 1], [], []], [[0], [1], []])}
    assert need == want
    assert all(len(list(itertools.chain(*p))) == 2 for p in need)


def test_the_command_names_the_missing_pattern(tmp_path, capsys):
    """`sdlscape check-certificate` on a committed certificate with one piece deleted: exit 3, the pattern printed."""
    from sdlscape.cli import main

    cert = _load("topk2_n4_np3_q3_s0")
    need, _ = required_patterns(cert["instance"])
    gone = next(p for p in cert["pieces"] if key(p["pattern"]) in need)
    cert["pieces"].remove(gone)
    path = tmp_path / "cut.cert.json.gz"
    path.write_bytes(gzip.compress(json.dumps(cert).encode()))
    assert main(["check-certificate", str(path)]) == 3
    out = capsys.readouterr().out
    label = json.dumps([list(F) for F in key(gone["pattern"])], separators=(",", ":"))
    assert "INVALID" in out and f"fails: pattern {label}: its region has interior" in out, out
