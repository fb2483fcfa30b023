"""Tests of the top-activating-examples figure (Figs. 10-11 analogue): PNG and PDF per method, digits and text."""
import numpy as np
import pytest
from sklearn.datasets import load_digits

from sdlscape.bench.real_sources import topic_sentences
from sdlscape.errors import InputError
from sdlscape.figures import top_activations


def _entry(cls, latent, top, labels):
    pur = float(np.mean([labels[str(j)] == cls for j in top])) if top else None
    return {"class": cls, "latent": latent, "cos_encoder": 0.5, "cos_decoder": 0.4, "purity": pur,
            "top": top, "acts": [1.0] * len(top)}


def _digits_result(methods=("topk", "matryoshka"), m=4):
    d = load_digits()
    idx = {c: [int(j) for j in np.flatnonzero(d.target == c)[:m]] for c in (2, 7)}
    mixed = idx[2][:2] + idx[7][:1]                    # a latent with an impure top and fewer than m inputs
    used = sorted({j for v in idx.values() for j in v})
    labels = {str(j): int(d.target[j]) for j in used}
    per = {"plain": [_entry(2, 40, mixed, labels), _entry(7, 9, [], labels)],           # 7: a dead latent
           "anchored": [_entry(2, 0, idx[2], labels), _entry(7, 1, idx[7], labels)]}
    return {"table": "real-digits", "scale": "tiny",
            "top_examples": {"kind": "image8x8", "m": m, "class_names": [str(c) for c in range(10)],
                             "examples": {str(j): d.data[j].astype(int).tolist() for j in used},
                             "labels": labels, "methods": {meth: per for meth in methods}}}


def _assert_files(paths, n_methods):
    assert len(paths) == 2 * n_methods
    for p in paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if p.suffix == ".png" else head.startswith(b"%PDF")
        assert p.stat().st_size > 1000


def test_draw_digits_writes_png_and_pdf_per_method(tmp_path):
    paths = top_activations.draw(_digits_result(), tmp_path / "figs")
    _assert_files(paths, 2)
    assert {p.name for p in paths} >= {"top_activations_real-digits_topk.png",
                                       "top_activations_real-digits_matryoshka.pdf"}


def test_draw_text_source(tmp_path):
    sents, y, names = topic_sentences(3, seed=0)
    labels = {str(j): int(y[j]) for j in range(len(sents))}
    per = {"plain": [_entry(0, 5, [0, 1, 4], labels)], "anchored": [_entry(0, 0, [0, 1, 2], labels)]}
    res = {"table": "real-minilm", "scale": "tiny",
           "top_examples": {"kind": "text", "m": 3, "class_names": list(names),
                            "examples": {str(j): s for j, s in enumerate(sents)}, "labels": labels,
                            "methods": {"topk": per}}}
    _assert_files(top_activations.draw(res, tmp_path), 1)


@pytest.mark.parametrize("bad", [{}, {"top_examples": {"kind": "audio", "methods": {"topk": {}}}}, []])
def test_draw_rejects_results_without_top_examples(tmp_path, bad):
    with pytest.raises(InputError):
        top_activations.draw(bad, tmp_path)
    assert not any(tmp_path.iterdir())
