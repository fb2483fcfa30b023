"""Error types: InputError is bad input from the user (exit status 2 on the command line)."""


class InputError(ValueError):
    """The user's input is malformed or impossible; the message names the problem in one line."""
