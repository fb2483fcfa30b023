"""Error types: InputError is bad input from the user (exit status 2 on the command line)."""


class InputError(ValueError):
    """The user's input is malformed or impossible; the message names the problem in one line."""


class InconclusiveError(InputError):
    """A solver ended without a decision (an LP status other than optimal or infeasible) where a partial
    answer would be wrong, e.g. in the middle of an enumeration: exit 2 with the solver's status named."""
