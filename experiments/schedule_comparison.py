"""Schedule comparison runs: plateau heights, decay shapes and the thermodynamic laws.

Runs `mpemba-jax compare-schedules` with `experiments/configs/schedule_comparison.toml`
(the default) and writes JSON of every run, figures and `report.md`, whose
verdicts on THEORY section 6's claims are computed from the measured numbers,
into `runs/schedule_comparison` (`--out`); `--report-dir` copies the report and
its figures (not the JSON) into the docs.

    python experiments/schedule_comparison.py --report-dir docs/schedule_comparison --overwrite
    python experiments/schedule_comparison.py --particles 100000000   # on an accelerator
    python experiments/schedule_comparison.py --sweeps valley,shapes --particles 4096

Any option of `mpemba-jax compare-schedules --help` is passed through; `--config`
replaces the default config.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mpemba_jax import cli

CONFIG = Path(__file__).resolve().parent / "configs" / "schedule_comparison.toml"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--config" or a.startswith("--config=") for a in argv):
        argv = ["--config", str(CONFIG), *argv]
    return cli.main(["compare-schedules", *argv])


if __name__ == "__main__":
    sys.exit(main())
