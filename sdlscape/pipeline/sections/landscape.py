"""The report's landscape section (results of sdlscape landscape on the canonical instances): the certified
global value per instance, and per instance the table of pieces (value, lower bound, gap, certified, where the
infimum lies, and which pieces hold spurious partial minima). Reads the results; computes nothing."""
from __future__ import annotations

import json

from sdlscape.formatting import value
from sdlscape.numerics import ZERO_LOSS
from sdlscape.pipeline.document import Heading, Paragraph, Table
from sdlscape.pipeline.sections._common import add_figure

PIECE_HEADER = ["pattern", "mult.", "class", "value", "lower bound", "gap", "certified", "by", "infimum at",
                "ACS partial optimum", "ACS excess"]


def _activation(s: dict) -> str:
    a = s["activation"]
    return a["name"] + (f"(k={a['k']})" if "k" in a else "") + (f"(theta={a['theta']})" if "theta" in a else "")


def _where(p: dict) -> str:
    """Where the piece's infimum lies, as the certifier located it."""
    if p.get("infimum_on_boundary") is None:
        return "–"
    if not p["infimum_on_boundary"]:
        return "interior"
    faces = [f"latent {f['latent']}: code of {f['features']} -> 0" for f in p.get("boundary_face") or []]
    if (p.get("certificate") or {}).get("rank_drop"):
        faces.append("rank drop (W_D -> infinity)")
    return "boundary: " + "; ".join(faces) if faces else "boundary"


def _by(p: dict) -> str:
    if not p.get("certified"):
        return "–"
    return "certifier" if (p.get("certificate") or {}).get("certified") else "decoupled bound"


def piece_rows(land: dict) -> list[list]:
    rows = []
    for p in land["pieces"]:
        rows.append([json.dumps(p["pattern"], separators=(",", ":")), p.get("multiplicity"), p["class"],
                     value(p.get("loss")), value(p.get("lower_bound")), value(p.get("gap")), p.get("certified"),
                     _by(p), _where(p), value(p.get("acs_loss")), value(p.get("acs_excess"))])
    return rows


def blocks(report: dict) -> list:
    lands = report.get("landscapes", {})
    if not lands:
        return []
    blocks: list = [Heading("Landscapes of small instances"),
                    Paragraph("Every activation-pattern piece enumerated (cells of the hyperplane arrangement, "
                              "pieces up to latent permutation), solved by alternating convex search (ACS) from "
                              "several starts and certified by branch and bound (sdlscape certify: W_D eliminated "
                              "by variable projection, rows normalised, perturbation and subspace bounds, the final "
                              "comparison in interval arithmetic). A piece's value is its certified infimum over the "
                              "open region (boundary limits included, L~ at an interior point) where the certifier "
                              "applies, else the least ACS value inside the region; 'certified' means a valid lower "
                              "bound meets the value within the run's tolerance. The global value is the least "
                              "piece value; it is certified when it meets the least piece lower bound.")]
    rows = []
    for name, land in lands.items():
        s = land["summary"]
        c = s.get("counts", {})
        rows.append([name, _activation(s), s.get("n"), s.get("n_p"), s.get("n_latents"), s.get("pieces"),
                     value(s.get("global_value")), value(s.get("global_lower_bound")), s.get("global_certified"),
                     f"{s.get('certified_pieces')}/{s.get('pieces')}", s.get("boundary_infima"),
                     c.get("global"), c.get("spurious"), c.get("leaves_region"), c.get("inconclusive"),
                     s.get("partial_optima_above_piece_minimum")])
    blocks.append(Table(["instance", "activation", "n", "n_p", "n_latents", "pieces", "global value",
                         "global lower bound", "global certified", "pieces certified", "boundary infima", "global",
                         "spurious", "leaves region", "inconclusive", "ACS optima above piece minimum"], rows))
    for name, land in lands.items():
        s = land["summary"]
        blocks.append(Heading(f"Pieces of {name}", level=3))
        gv = s.get("global_value")
        verdict = ("certified" if s.get("global_certified") else "NOT certified (an upper bound only)")
        blocks.append(Paragraph(
            f"Global value {value(gv, 6)}, least piece lower bound {value(s.get('global_lower_bound'), 6)}: "
            f"{verdict} at tolerance {s.get('tolerance')}. Values at or below {ZERO_LOSS:g} in magnitude are "
            f"round-off of zero and print as '0 (< {ZERO_LOSS:g})'. Spurious = a partial optimum that ACS certified "
            "in a "
            "piece whose value is above the global value; ACS excess = that partial optimum minus the piece's "
            "certified infimum (> 0: a saddle of the piece, not its minimum). 'by': which lower bound met the "
            "value (the certifier, or the decoupled low-rank relaxation where the certifier does not apply)."))
        blocks.append(Table(PIECE_HEADER, piece_rows(land)))
        add_figure(blocks, report, f"landscape_{name}",
                   f"Pieces of {name} by value, coloured by class; bars mark the lower bounds, diamonds the pieces "
                   "whose infimum lies on the region's boundary.")
    return blocks
