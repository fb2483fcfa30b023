"""Recovery against the number of features n, one line per anchoring variant (bench/anchoring.py results).

Data in: one ``sdlscape bench anchoring`` result or a list of them (scales and size sweeps); file out:
anchoring.png / .pdf, one panel per method, non-anchored decoder M_GT(0.95) with sd bars over seeds; a point
of one seed (no sd, untested) is drawn hollow.
"""
from __future__ import annotations

from pathlib import Path

from sdlscape.figures._common import new_figure, save

ORDER = ("plain", "eq26", "decoder", "encoder", "cosine", "normmatch")


def points(results) -> dict[str, dict[str, list[tuple]]]:
    """method -> variant -> sorted [(n, mean, sd, seeds)], later results overriding earlier ones at one n."""
    res = results if isinstance(results, list) else [results]
    got: dict[tuple, tuple] = {}
    for r in res:
        for row in r.get("rows", []):
            got[(row["method"], row["variant"], row["n"])] = (row["n"], row["M_GT_decoder_95"],
                                                              row.get("M_GT_decoder_95_sd") or 0.0, row["n_seeds"])
    out: dict[str, dict[str, list[tuple]]] = {}
    for (m, v, _), p in got.items():
        out.setdefault(m, {}).setdefault(v, []).append(p)
    return {m: {v: sorted(ps) for v, ps in vs.items()} for m, vs in out.items()}


def draw(results, out_dir: str | Path, name: str = "anchoring") -> list[Path]:
    pts = points(results)
    methods = sorted(pts)
    fig, axes = new_figure(5.0 * max(1, len(methods)), 5.0, ncols=max(1, len(methods)), squeeze=False)
    for ax, m in zip(axes[0], methods):
        for i, v in enumerate(sorted(pts[m], key=lambda v: ORDER.index(v) if v in ORDER else 99)):
            ps = pts[m][v]
            ns, mean, sd = [p[0] for p in ps], [p[1] for p in ps], [p[2] for p in ps]
            seeds = "/".join(str(p[3]) for p in ps)
            xs = [n * (1 + 0.015 * (i - 2.5)) for n in ns]
            ax.errorbar(xs, mean, yerr=sd, marker="o", ms=4, capsize=2, lw=1.2, ls="--" if v == "plain" else "-",
                        color=f"C{i}", label=f"{v} (seeds {seeds})")
            one = [(x, y) for x, y, p in zip(xs, mean, ps) if p[3] < 2]  # one seed: hollow, no sd, untested
            if one:
                ax.plot(*zip(*one), ls="none", marker="o", ms=5, mfc="white", mec=f"C{i}", mew=1.2, zorder=3)
        ax.set_xscale("log")
        ns_all = sorted({p[0] for ps in pts[m].values() for p in ps})
        ax.set_xticks(ns_all, [str(n) for n in ns_all])
        ax.minorticks_off()
        ax.set_xlim(ns_all[0] / 1.3, ns_all[-1] * 1.3)
        ax.set_xlabel("features n (paper ratios: n_p = 0.768 n,\n16 n latents, k = 0.128 n, n / 10 anchors)")
        ax.set_ylabel("non-anchored decoder M_GT(0.95)")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"{m}: feature anchoring variants", fontsize=10)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    fig.tight_layout()
    return save(fig, out_dir, name)
