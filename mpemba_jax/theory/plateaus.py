"""Plateau LRs for a Mpemba experiment: the strong point, a cold and a hot plateau."""

from __future__ import annotations

import numpy as np

from .operator import FokkerPlanck

__all__ = ["choose_plateaus"]


def choose_plateaus(fp: FokkerPlanck, lr_cold=None, lr_hot=None) -> dict:
    """`lr*` (the strong point with smallest `|a_3|` in `(1.05, 10) lr_bath`), a cold
    plateau maximising `|a_2|` below it, and a hot one above it with
    `a_2(hot) = -a_2(cold) / 2`, unless given."""
    import scipy.optimize

    lo, hi = 1.05 * fp.lr_bath, 10 * fp.lr_bath
    summary = fp.mpemba_summary((lo, hi))
    if summary.index == 0:
        raise ValueError(f"{fp.landscape.name!r} has no strong Mpemba point in [{lo:g}, {hi:g}]")
    star = float(summary.optimal_lr)
    if lr_cold is None:
        lrs = np.geomspace(lo, star, 200)[:-1]
        i = int(np.argmax(np.abs(fp.amplitude(lrs, 2))))
        res = scipy.optimize.minimize_scalar(
            lambda x: -abs(fp.amplitude(x, 2)), bounds=(lrs[max(i - 1, 0)], lrs[min(i + 1, len(lrs) - 1)]),
            method="bounded")
        lr_cold = float(res.x)
    a2c = float(fp.amplitude(lr_cold, 2))
    if lr_hot is None:
        target = -0.5 * a2c
        lrs = np.geomspace(star, hi, 400)[1:]
        a2 = fp.amplitude(lrs, 2) - target
        j = np.nonzero(np.sign(a2[:-1]) != np.sign(a2[1:]))[0]
        if not len(j):
            raise ValueError("no hot plateau above lr* with a_2 = -a_2(cold) / 2; give --lr-hot")
        lr_hot = float(scipy.optimize.brentq(lambda x: fp.amplitude(x, 2) - target,
                                             lrs[j[0]], lrs[j[0] + 1]))
    return {"cold": float(lr_cold), "hot": float(lr_hot), "star": star}
