"""The mathematics of SDL: instances, activations, losses, activation patterns and regions (numpy/scipy/sympy only)."""
