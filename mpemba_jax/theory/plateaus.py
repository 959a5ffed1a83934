"""Plateau LRs for a Mpemba experiment: the strong point, a cold and a hot plateau.

With `a_2(eta)` the Mpemba amplitude of a quench from the plateau `eta` to
the bath (`theory.mpemba`), the late-time distance to equilibrium goes as
`|a_2| e^{-lambda_2 t}`. A useful experiment takes

    star:  eta* with a_2(eta*) = 0 (the strong point with the smallest |a_3|)
    cold:  argmax_{eta < eta*} |a_2(eta)|                 (far from equilibrium late)
    hot:   eta > eta* with a_2(hot) = -a_2(cold) / 2      (hotter, yet closer late)

so the hot start begins farther from equilibrium and ends closer: its distance
curve crosses the cold one's.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from .operator import FokkerPlanck

__all__ = ["choose_plateaus"]


def choose_plateaus(fp: FokkerPlanck, lr_cold=None, lr_hot=None, start: str = "boltzmann",
                    n_scan: int = 400) -> dict:
    """`{"cold", "hot", "star"}` plateau LRs for `fp` (see the module docstring).

    `star` is searched in `(1.05, 10) lr_bath`; `lr_cold` / `lr_hot`, when
    given, are used as they are. `start` as in `fp.amplitude`: `"boltzmann"`
    for runs started from `mj.equilibrium`, `"chain"` for plateaus that reach
    the chain's own stationary state (a chain operator, `dt=h`; each LR tried
    then costs a linear solve, so keep `n_scan` small). Raises `ValueError` if
    the range holds no strong Mpemba point or no hot plateau reaches
    `a_2 = -a_2(cold) / 2`.

    Example:
      >>> choose_plateaus(mj.FokkerPlanck(mj.preset("box_wells"), 0.01, lr_max=0.1))
      {'cold': ..., 'hot': ..., 'star': 0.0182...}
    """
    lo, hi = 1.05 * fp.lr_bath, 10 * fp.lr_bath
    summary = fp.mpemba_summary((lo, hi), n_scan, start)
    if summary.index == 0:
        raise ValueError(f"{fp.landscape.name!r} has no strong Mpemba point in [{lo:g}, {hi:g}]")
    star = float(summary.optimal_lr)
    if lr_cold is None:
        # The scan's largest |a_2| below the strong point, refined between its neighbours.
        lrs = np.geomspace(lo, star, max(n_scan // 2, 3))[:-1]
        i = int(np.argmax(np.abs(fp.amplitude(lrs, 2, start))))
        res = scipy.optimize.minimize_scalar(
            lambda x: -abs(fp.amplitude(x, 2, start)),
            bounds=(lrs[max(i - 1, 0)], lrs[min(i + 1, len(lrs) - 1)]), method="bounded")
        lr_cold = float(res.x)
    a2c = float(fp.amplitude(lr_cold, 2, start))
    if lr_hot is None:
        # The first crossing of a_2 = -a_2(cold) / 2 above the strong point.
        target = -0.5 * a2c
        lrs = np.geomspace(star, hi, n_scan)[1:]
        a2 = fp.amplitude(lrs, 2, start) - target
        j = np.nonzero(np.sign(a2[:-1]) != np.sign(a2[1:]))[0]
        if not len(j):
            raise ValueError("no hot plateau above lr* with a_2 = -a_2(cold) / 2; give --lr-hot")
        lr_hot = float(scipy.optimize.brentq(lambda x: fp.amplitude(x, 2, start) - target,
                                             lrs[j[0]], lrs[j[0] + 1]))
    return {"cold": float(lr_cold), "hot": float(lr_hot), "star": star}
