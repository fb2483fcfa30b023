"""sdlscape: check the theory of sparse dictionary learning on exact small instances and at scale.

Importing the package is cheap: torch and cvxpy are imported only by the modules that need them.
"""
from sdlscape.errors import InputError

__version__ = "0.1.0"
__all__ = ["InputError", "__version__"]
