"""Particles against theory through a strong Mpemba point (issue 4).

Quenches `box_wells` (valley stiffness a0 = 30, so tau_x / tau_y = 0.004) from
equilibrium at a cold plateau, a hot plateau and the strong Mpemba point lr* to
the bath LR 0.01; tests every record against the Fokker–Planck prediction with
`mj.validate`, and measures where the cold and hot distance curves cross with
`mj.validate_crossing`. Same as `mpemba-jax validate`; every option of that
command works here (`--help`).

    python experiments/mpemba_crossing.py [--n-particles 1e6] [--out runs/mpemba_crossing]
    python experiments/mpemba_crossing.py --n-particles 1e8      # on an accelerator

Writes OUT/verdict.json and OUT/mpemba_crossing.png.
"""

from __future__ import annotations

import sys

from mpemba_jax.cli import main

if __name__ == "__main__":
    sys.exit(main(["validate", *sys.argv[1:]]))
