"""Certified global optima of L~ (eq. 11): reduction, branch and bound, interval check (CERTIFY.md).

`certify_piece(piece)` -> PieceCertificate; `certify_global(instance)` -> GlobalCertificate.
"""
from sdlscape.solvers.certify.global_min import GlobalCertificate, certify_global
from sdlscape.solvers.certify.piece_cert import PieceCertificate, certify_piece, cheap_lower_bound

__all__ = ["GlobalCertificate", "certify_global", "PieceCertificate", "certify_piece", "cheap_lower_bound"]
