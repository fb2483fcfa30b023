"""Verification: one check per paper statement (ClaimResult) and the torch-vs-exact cross-check."""
