"""Shared helpers for the tests: statistical thresholds and a run config.

Statistical assertions use a family-wise false-alarm rate of 0.27 % (the
two-sided 3-sigma level): a test comparing `m` estimates to their predictions
uses the Bonferroni threshold `z_m = Phi^-1(1 - 0.0027 / (2 m))` (`z_1 = 3`).
"""

import numpy as np
from scipy import stats

FAMILY_ALPHA = 0.0027


def z_threshold(n_comparisons: int = 1) -> float:
    """Two-sided normal threshold for `n_comparisons` tests at family level 0.27 %."""
    return float(stats.norm.isf(FAMILY_ALPHA / (2 * n_comparisons)))


def assert_within_se(estimate, standard_error, expected, what: str = "estimate"):
    """Every `|estimate - expected| < z_m * standard_error` (`m` = number of entries)."""
    estimate, se, expected = np.broadcast_arrays(
        np.asarray(estimate, float), np.asarray(standard_error, float), np.asarray(expected, float))
    z = np.abs(estimate - expected) / se
    limit = z_threshold(z.size)
    assert np.all(se > 0), f"{what}: standard errors must be positive; got {se}"
    assert np.all(z < limit), (
        f"{what}: |estimate - expected| / SE = {np.round(z, 2)} exceeds {limit:.2f}\n"
        f"estimate={estimate}\nexpected={expected}\nSE={se}")


def double_well_config(**simulation) -> str:
    """The TOML of a `mpemba-jax simulate` run: the double well from equilibrium at
    LR 0.1 quenched into LR 0.05, with the `[simulation]` keys given."""
    keys = "".join(f"{k} = {v!r}\n" for k, v in simulation.items())
    return ('[landscape]\npreset = "double_well"\n\n[schedule]\nkind = "constant"\nlr = 0.05\n\n'
            '[init]\nkind = "equilibrium"\nlr = 0.1\n\n[simulation]\n' + keys)
