"""Solvers: exact convex blocks (CVXPY), alternating convex search, arrangements, landscapes, torch training."""
