"""Every check's false-rejection rate and power, measured (issue 12).

Null runs of the cases whose theory is exact (`mpemba_jax.studies.calibration_cases`),
200 independent runs per case at 1024, 4096 and 16384 particles, each validated;
the sizes of every check against its level and its power against the stated
alternatives. Same as `mpemba-jax calibrate` with the committed outputs as
defaults; every option of that command works here (`--help`).

    python experiments/calibration.py            # writes docs/validation/calibration.json
    python experiments/make_tables.py            # and the tables in docs/validation.md

Writes the JSON and docs/figures/calibration_power.png.
"""

from __future__ import annotations

import sys

from mpemba_jax.cli import main

if __name__ == "__main__":
    sys.exit(main(["calibrate", "--out", "docs/validation/calibration.json",
                   "--figure", "docs/figures/calibration_power.png", *sys.argv[1:]]))
