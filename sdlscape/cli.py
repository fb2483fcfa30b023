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

COMMANDS = ("realizable", "piece", "landscape", "certify", "verify", "crosscheck", "bench", "figures", "reproduce")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's usage errors are bad input: exit 2
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from sdlscape import __version__

    parser = _Parser(prog="sdlscape", description=__doc__.splitlines()[0])
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"sdlscape {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sdlscape {args.command}: interrupted; finished work is kept and a rerun resumes",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
