"""Verification: one check per paper statement (ClaimResult), the torch-vs-exact cross-check, the report."""
