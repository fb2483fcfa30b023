"""How numbers are printed in reports, summaries and figure labels: significant digits, and zero below tolerance.

A loss of 1.3e-32 is round-off of an exact zero; printed as a value it reads like a result. Values whose
magnitude is at or below `numerics.ZERO_LOSS` print as "0 (< 1e-12)".
"""
from __future__ import annotations

from sdlscape.numerics import ZERO_LOSS


def value(x, digits: int = 4, zero_below: float | None = ZERO_LOSS) -> str:
    """x to `digits` significant digits; |x| <= zero_below as "0 (< zero_below)"; None as an en dash."""
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if v != v:
        return "nan"
    if zero_below is not None and abs(v) <= zero_below:
        return "0" if v == 0.0 else f"0 (< {zero_below:.0e})".replace("e-0", "e-")
    return f"{v:.{digits}g}"
