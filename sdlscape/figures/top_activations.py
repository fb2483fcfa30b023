"""Top-activating inputs of anchored latents with and without feature anchoring (paper Figs. 10-11 analogue).

Data in: the dict returned by :func:`sdlscape.bench.real.run_real_table` (its "top_examples").
File out: one figure per method, PNG and PDF.  For each anchored class two rows: "plain" shows the
latent of the SAE trained without anchors whose encoder row is closest to the class mean, "anchored"
shows latent i of the SAE trained with the anchor term of eq. 26.  Digits are drawn as 8x8 images
(each framed green when its label is the anchor's class, red otherwise); sentences are listed as text.
"""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sdlscape.errors import InputError  # noqa: E402
from sdlscape.storage import write_bytes  # noqa: E402

CONDITIONS = (("plain", "plain"), ("anchored", "anchored (eq. 26)"))


def _check(result: dict) -> dict:
    top = result.get("top_examples") if isinstance(result, dict) else None
    if not isinstance(top, dict) or not top.get("methods") or top.get("kind") not in ("image8x8", "text"):
        raise InputError("result has no usable 'top_examples' (expected the output of run_real_table)")
    return top


def _row_label(top: dict, entry: dict, cond: str) -> str:
    """The row's numbers, named as in the report's table: precision (fraction of the latent's firings inside the
    class, over every input) and recall (fraction of the class's inputs it fires on); the frames show the top-m
    inputs, which are not a sample of its firings."""
    name = top["class_names"][entry["class"]]
    if "precision" not in entry:
        quality = "precision not recorded"
    elif entry["precision"] is None:
        quality = "dead (fires on no input)"
    else:
        quality = f"precision {entry['precision']:.2f}"
    if entry.get("recall") is not None:
        quality += f", recall {entry['recall']:.2f}"
    return f"class {name}, {cond}\nlatent {entry['latent']}: cos {entry['cos_encoder']:.2f}, {quality}"


def _draw_images(top: dict, method: str, title: str):
    m = int(top["m"])
    rows = [(cond, label, e) for cond, label in CONDITIONS for e in top["methods"][method].get(cond, [])]
    rows.sort(key=lambda r: (r[2]["class"], r[0] != "plain"))
    fig, axes = plt.subplots(len(rows), m, figsize=(2.6 + 0.75 * m, 0.95 * len(rows) + 0.6), squeeze=False)
    for r, (_cond, label, e) in enumerate(rows):
        for c in range(m):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c < len(e["top"]):
                j = str(e["top"][c])
                ax.imshow(np.asarray(top["examples"][j], dtype=float).reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
                ok = top["labels"][j] == e["class"]
                for sp in ax.spines.values():
                    sp.set_edgecolor("tab:green" if ok else "tab:red")
                    sp.set_linewidth(2.0)
            else:
                ax.axis("off")
        axes[r, 0].set_ylabel(_row_label(top, e, label), rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _draw_text(top: dict, method: str, title: str, n_lines: int = 5):
    rows = [(cond, label, e) for cond, label in CONDITIONS for e in top["methods"][method].get(cond, [])]
    rows.sort(key=lambda r: (r[2]["class"], r[0] != "plain"))
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 1.25 * len(rows) + 0.6), squeeze=False)
    for r, (_cond, label, e) in enumerate(rows):
        ax = axes[r, 0]
        ax.axis("off")
        ax.text(0.0, 1.0, _row_label(top, e, label).replace("\n", "  "), fontsize=8, weight="bold",
                va="top", transform=ax.transAxes)
        for i, j in enumerate(e["top"][:n_lines]):
            j = str(j)
            ok = top["labels"][j] == e["class"]
            line = textwrap.shorten(str(top["examples"][j]), 110)
            ax.text(0.02, 0.78 - 0.17 * i, f"[{top['class_names'][top['labels'][j]]}] {line}", fontsize=7,
                    va="top", color="tab:green" if ok else "tab:red", transform=ax.transAxes)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def draw(result: dict, out_dir: Path) -> list[Path]:
    """Write top_activations_<table>_<method>.png and .pdf for each method; return the paths."""
    top = _check(result)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = str(result.get("table", "real"))
    paths: list[Path] = []
    for method in top["methods"]:
        title = (f"{table} ({result.get('scale', '?')}): top-{top['m']} activating inputs of the latent for each "
                 f"anchored class, {method} SAE without / with feature anchoring\n(frame green: input in the "
                 f"class; precision and recall over all inputs, as in the table)")
        fig = (_draw_images if top["kind"] == "image8x8" else _draw_text)(top, method, title)
        try:
            for ext in ("png", "pdf"):
                p = out_dir / f"top_activations_{table}_{method}.{ext}"
                buf = io.BytesIO()
                fig.savefig(buf, format=ext, dpi=150)
                write_bytes(p, buf.getvalue())      # atomic
                paths.append(p)
        finally:
            plt.close(fig)
    return paths
