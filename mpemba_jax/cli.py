"""`mpemba-jax`: the command-line front end.

Each subcommand lives in `mpemba_jax/commands/<name>.py`, which defines
`add_parser(subparsers)` (registering the subcommand with `func=run`) and
`run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("presets", "simulate", "bench", "theory", "compare_schedules", "validate",
            "fit_curves")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpemba-jax",
        description="Langevin simulation and Fokker–Planck theory of valley–river losses "
                    "under learning-rate schedules.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mpemba_jax.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileExistsError) as e:
        print(f"mpemba-jax {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
