"""Sections of the report, one module each: blocks(report) -> list of document blocks (they compute nothing).

Order in the document (pipeline/report.py): verdicts, landscape, crosscheck, bench, encoder, real, theory.
"""
