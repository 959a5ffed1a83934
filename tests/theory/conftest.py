"""Operators shared by the theory tests (built once per session)."""

import pytest

import mpemba_jax as mj
from mpemba_jax.theory import FokkerPlanck

K, LR = 2.0, 0.1  # harmonic stiffness and bath LR of the `harmonic` operator


@pytest.fixture(scope="session")
def harmonic():
    return FokkerPlanck(mj.preset("harmonic", stiffness=K, valley_curvature=10.0), LR)


@pytest.fixture(scope="session")
def box():
    return FokkerPlanck(mj.preset("box_wells"), 0.01, n_grid=2000, n_modes=12, lr_max=0.1)
