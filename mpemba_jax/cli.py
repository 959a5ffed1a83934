"""`mpemba-jax`: the command-line front end.

Each subcommand lives in `mpemba_jax/commands/<name>.py`, which defines
`add_parser(subparsers)` (registering the subcommand with `func=run`) and
`run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .commands import distributed as _distributed

COMMANDS = ("presets", "simulate", "bench", "doctor", "theory", "compare_schedules", "validate",
            "calibrate", "fit_curves")
# Subcommands that run simulations and can join a multi-process run.
DISTRIBUTED = ("simulate", "compare-schedules", "validate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mpemba-jax",
        description="Langevin simulation and Fokker–Planck theory of valley–river losses "
                    "under learning-rate schedules.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"mpemba_jax.commands.{name}").add_parser(sub)
    for name in DISTRIBUTED:
        _distributed.add_arguments(sub.choices[name])
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    multi = args.command in DISTRIBUTED and args.command != "simulate" and \
        _distributed.requested(args)  # simulate starts it itself: its config may ask for it
    try:
        if multi:
            _distributed.start(args)
            with _distributed.quiet_outputs(args):
                return int(args.func(args) or 0)
        return int(args.func(args) or 0)
    except (ValueError, FileExistsError) as e:
        if multi or _joined():
            return _distributed.fail(args.command, e)
        print(f"mpemba-jax {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - one process's failure, said so, then re-raised
        if multi or _joined():
            _distributed.fail(args.command, e)
        raise


def _joined() -> bool:
    import jax

    return jax.distributed.is_initialized()


if __name__ == "__main__":
    sys.exit(main())
