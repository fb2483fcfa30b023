"""Figures: one module per figure, data in, file out (matplotlib)."""
