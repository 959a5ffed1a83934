"""Equivalence tests: "this quantity is zero" as a claim the data can support.

Failing to reject `theta = 0` is no evidence that `theta` is small: it gets
easier with fewer particles. An equivalence test turns the burden around.
With a margin `delta > 0` fixed before the data are seen, the claim
`|theta| < delta` is verified at level `alpha` when both one-sided nulls
`theta >= delta` and `theta <= -delta` are rejected (two one-sided tests),
i.e. when the `1 - 2 alpha` interval `theta_hat +- z_{1-alpha} SE` lies inside
`(-delta, delta)`:

    p = max(Phi((theta_hat - delta) / SE), Phi(-(theta_hat + delta) / SE)).

It is refuted ("not verified") when the interval lies wholly outside
`[-delta, delta]` (the claim's negation is then established at level
`alpha`), and inconclusive when the interval straddles a margin. The chance
of a false "verified" is at most `alpha` for any `|theta| >= delta`.
"""

from __future__ import annotations

import math

import scipy.stats

from .checks import NOT_VERIFIED, STRADDLES_MARGIN, VERIFIED, Check

__all__ = ["equivalence_check"]


def equivalence_check(claim: str, estimate: float, se: float, margin: float, level: float,
                      *, detail: str = "") -> Check:
    """`Check` of `|theta| < margin` from an estimate and its standard error (two one-sided
    tests at `level`; see the module docstring). The statistic is the estimate; the
    `1 - 2 level` interval is in the detail.

    Example:
      >>> equivalence_check("a_2(lr*) = 0", 0.0004, 0.0005, 0.003, 0.01).outcome
      'verified'
    """
    if not margin > 0:
        raise ValueError(f"margin must be > 0; got {margin!r}")
    if not 0 < level < 0.5:
        raise ValueError(f"level must be in (0, 0.5); got {level!r}")
    if not (math.isfinite(estimate) and math.isfinite(se) and se > 0):
        raise ValueError(f"estimate and se must be finite with se > 0; got {estimate!r}, {se!r}")
    z = scipy.stats.norm.isf(level)
    lo, hi = estimate - z * se, estimate + z * se
    p = max(scipy.stats.norm.cdf((estimate - margin) / se),
            scipy.stats.norm.sf((estimate + margin) / se))
    if -margin < lo and hi < margin:
        outcome = VERIFIED
    elif hi < -margin or lo > margin:
        outcome = NOT_VERIFIED
    else:
        outcome = STRADDLES_MARGIN
    text = (f"estimate {estimate:.3g} +- {se:.2g}; {100 * (1 - 2 * level):g}% interval "
            f"[{lo:.3g}, {hi:.3g}] against the margin +-{margin:.3g}")
    return Check(claim=claim,
                 test=(f"equivalence (two one-sided z tests): the {100 * (1 - 2 * level):g}% "
                       "interval lies inside (-margin, margin)"),
                 level=level, statistic=float(estimate), p_value=float(p), outcome=outcome,
                 detail=text + (f"; {detail}" if detail else ""))
