"""The two empirical anchors, from their published formulas.

Both are written in the normalised LR `eta = lr / lr_ref` (the constants
absorb the scale) and in this package's step convention: the loss recorded at
step `s` has seen `eta[:s]`, so its LR area is `S(s) = sum_{i < s} eta_i`. The
warm-up ends at the first step `w` where the table reaches its largest LR;
the decay terms sum over the steps after it.

Multi-power law (Luo et al. 2025, arXiv 2503.12811, eq. 1; 7 parameters):

    L(s) = L0 + A S(s)^(-alpha) - LD(s),
    LD(s) = B sum_{w < k < s} (eta_{k-1} - eta_k) G(eta_k^(-gamma) S_k(s)),
    S_k(s) = sum_{k <= j < s} eta_j,     G(x) = 1 - (C x + 1)^(-beta).

(`S(s)` is the paper's `S_1(t) + S_W`: the area after warm-up plus the warm-up's.)

LR-annealing law (Tissue et al. 2024, arXiv 2408.11029; 4 parameters and the
fixed decay factor `lambda`, 0.999 as the authors recommend):

    L(s) = L0 + A S(s)^(-alpha) - C S2(s),
    S2(s) = sum_{w < i < s} m_i,     m_i = lambda m_{i-1} + (eta_{i-1} - eta_i).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from scipy.signal import lfilter

from .models import CurveModel, Parameter

__all__ = ["MultiPowerLaw", "AnnealingLaw", "warmup_end"]


def warmup_end(eta: np.ndarray) -> int:
    """`w`: the first step at which the LR table reaches its maximum."""
    return int(np.argmax(np.asarray(eta)))


def _area(eta: np.ndarray) -> np.ndarray:
    """`S(s) = sum_{i < s} eta_i` for `s = 0 .. n`, `(n + 1,)`."""
    return np.concatenate([[0.0], np.cumsum(eta)])


def _area_at(eta: np.ndarray, record_steps: np.ndarray) -> np.ndarray:
    area = _area(eta)[record_steps]
    if np.any(area <= 0):
        raise ValueError("record_steps: a power law in the LR area needs S(s) > 0 at every "
                         f"record; the first record step {int(record_steps[0])} has S = 0")
    return area


_FLOOR = Parameter("L0", "identity", (0.0, 20.0), None, "loss floor (infinite LR area)")
# The two laws' common term A S^-alpha.
_POWER = (Parameter("A", "log", (1e-4, 1e3), (0.3, 10.0), "amplitude of the LR-area power law"),
          Parameter("alpha", "log", (1e-3, 5.0), (0.2, 1.0), "exponent of the LR-area power law"))


class MultiPowerLaw(CurveModel):
    """The multi-power law (Luo et al. 2025): parameters L0, A, alpha, B, C, beta, gamma."""

    name = "multi_power"
    parameters = (
        _FLOOR,
        *_POWER,
        Parameter("B", "log", (1e-5, 1e3), (0.05, 1.0), "loss drop per unit LR decrease"),
        Parameter("C", "log", (1e-6, 1e4), (0.01, 10.0), "rate scale of the drop, G(x) = "
                                                           "1 - (C x + 1)^-beta"),
        Parameter("beta", "log", (1e-3, 20.0), (0.2, 2.0), "exponent of the drop's power law"),
        Parameter("gamma", "identity", (-2.0, 3.0), (0.0, 1.0),
                  "LR dependence of the drop's rate, eta_k^-gamma"),
    )

    def prepare(self, eta: np.ndarray, record_steps: np.ndarray) -> dict:
        eta = np.asarray(eta, np.float64)
        area = _area(eta)
        w = warmup_end(eta)
        k = np.arange(w + 1, len(eta))
        drop = eta[k - 1] - eta[k]
        k, drop = k[drop != 0], drop[drop != 0]
        s = np.asarray(record_steps)
        # S_k(s) = S(s) - S(k) where k < s, else the term is absent (0).
        s_k = np.where(k[None, :] < s[:, None], area[s][:, None] - area[k][None, :], 0.0)
        return {"area": _area_at(eta, s), "drop": drop, "eta_k": np.maximum(eta[k], 1e-300),
                "s_k": s_k}

    def losses(self, theta, data):
        l0, a, alpha, b, c, beta, gamma = (theta[i] for i in range(7))
        x = data["eta_k"][None, :] ** (-gamma) * data["s_k"]
        g = 1.0 - (c * x + 1.0) ** (-beta)
        return l0 + a * data["area"] ** (-alpha) - b * jnp.sum(data["drop"] * g, axis=1)


class AnnealingLaw(CurveModel):
    """The LR-annealing law (Tissue et al. 2024): parameters L0, A, alpha, C; `decay` fixed."""

    name = "annealing"
    parameters = (
        _FLOOR,
        *_POWER,
        Parameter("C", "log", (1e-8, 1e2), (1e-4, 1e-1), "loss drop per unit annealing area S2"),
    )

    def __init__(self, decay: float = 0.999):
        decay = float(decay)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1); got {decay}")
        self.decay = decay

    def options(self) -> dict:
        return {"decay": self.decay}

    def prepare(self, eta: np.ndarray, record_steps: np.ndarray) -> dict:
        eta = np.asarray(eta, np.float64)
        w = warmup_end(eta)
        d = np.zeros(len(eta))
        d[w + 1:] = eta[w:-1] - eta[w + 1:]
        m = lfilter([1.0], [1.0, -self.decay], d)
        s2 = np.concatenate([[0.0], np.cumsum(m)])[np.asarray(record_steps)]
        return {"area": _area_at(eta, np.asarray(record_steps)), "s2": s2}

    def losses(self, theta, data):
        l0, a, alpha, c = (theta[i] for i in range(4))
        return l0 + a * data["area"] ** (-alpha) - c * data["s2"]
