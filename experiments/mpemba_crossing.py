"""Particles against theory through a strong Mpemba point (issues 4 and 12).

Quenches `box_wells` (valley stiffness a0 = 30, so tau_x / tau_y = 0.004) from
equilibrium at a cold plateau, a hot plateau and the strong Mpemba point lr* to
the bath LR 0.01, and states every claim as a test that could fail
(`mpemba_jax.studies.crossing_claims`). Same as `mpemba-jax validate` with the
replicated CPU default: 5 independent seed triples of 2^17 particles per start,
each triple's small record written to docs/validation/crossing/ (the tables in
README and docs/validation.md are generated from them by
experiments/make_tables.py). Every option of `mpemba-jax validate` works here
(`--help`) and overrides these defaults:

    python experiments/mpemba_crossing.py                         # CPU, ~10 min unloaded
    python experiments/mpemba_crossing.py --n-particles 1e8       # on an accelerator

Writes OUT/seed_S/verdict.json and OUT/seed_S/mpemba_crossing.png per triple.
"""

from __future__ import annotations

import sys

from mpemba_jax.cli import main

DEFAULTS = ["--replicates", "5", "--n-particles", "131072", "--out", "runs/mpemba_crossing",
            "--results", "docs/validation/crossing", "--figure",
            "docs/figures/mpemba_crossing.png"]

if __name__ == "__main__":
    sys.exit(main(["validate", *DEFAULTS, *sys.argv[1:]]))
