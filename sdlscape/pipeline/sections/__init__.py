"""Sections of the report, one module each: blocks(report) -> list of document blocks (they compute nothing)."""
