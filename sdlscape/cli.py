"""The sdlscape command line: thin parsers that call the library and print or write JSON.

Each subcommand lives in sdlscape/commands/<name>.py with two functions:
``register(subparsers)`` adds its parser and sets ``func``; ``func(args) -> int`` runs it.
Exit status: 0 the command did its job (a claim found false is a finding), 2 bad input
(one line on stderr), 1 an internal failure.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from sdlscape.errors import InputError

COMMANDS = ("realizable", "piece", "landscape", "certify", "check_certificate", "verify",
            "crosscheck", "bench", "figures", "reproduce")

DESCRIPTION = """\
sdlscape checks the theory of sparse dictionary learning (SAEs, transcoders, crosscoders) of
arXiv:2512.05534 - piecewise biconvexity, spurious partial minima, feature absorption, anchoring -
exactly on small instances (every activation-pattern piece, solved and certified) and at scale with
PyTorch on the Linear Representation Bench. Start with `sdlscape reproduce --out report`."""

EPILOG = """\
exit status: 0 the command did its job (a claim found false, or a pattern found unrealizable, is a
finding), 2 bad input (one line on stderr, nothing written), 1 an internal failure, 141 stdout
closed by its reader (e.g. `| head`), 130 interrupted (a rerun resumes).
`sdlscape COMMAND --help` describes each command."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's usage errors are bad input: exit 2, one line
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from sdlscape import __version__

    parser = _Parser(prog="sdlscape", description=DESCRIPTION, epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"sdlscape {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"sdlscape.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet is simply not offered
            if exc.name == f"sdlscape.commands.{name}":
                continue
            raise
        module.register(sub)
    for sp in sub.choices.values():   # a subcommand registered without a description shows its help line
        if not sp.description:
            sp.description = next((a.help for a in sub._choices_actions if a.dest == sp.prog.split()[-1]), None)
    return parser


EXIT_BROKEN_PIPE = 141     # 128 + SIGPIPE, what a shell reports for a writer whose reader went away


EXACT_COMMANDS = ("realizable", "piece", "landscape", "certify", "check-certificate", "verify", "crosscheck")


def main(argv: list[str] | None = None) -> int:
    """Run a command; a closed stdout (`sdlscape ... | head -1`) ends it quietly with EXIT_BROKEN_PIPE."""
    try:
        rc = _run(argv)
        sys.stdout.flush()
        return rc
    except BrokenPipeError:
        try:                            # the interpreter flushes stdout again at exit: point it at /dev/null
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_BROKEN_PIPE


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from sdlscape.commands._common import check_output_args

        check_output_args(args)           # before any work: nothing computed, nothing written
        if args.command in EXACT_COMMANDS:   # many tiny dense problems: one BLAS thread (solvers/blas_threads.py)
            from sdlscape.solvers.blas_threads import one_blas_thread

            with one_blas_thread():
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"sdlscape {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:              # a schema error that escaped its InputError mapping is bad input too
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        from sdlscape.schema import describe

        print(f"sdlscape {args.command}: error: {describe(exc.errors()[0])}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sdlscape {args.command}: interrupted; finished work is kept and a rerun resumes",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
