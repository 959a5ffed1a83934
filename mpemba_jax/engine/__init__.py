"""The simulation engine: one driver for one schedule or a batch of them.

Data path: schedules -> LR table `(S, n_steps + 1)` (`plan`) -> the chunk loop
(`driver`) over compiled kernels (`kernels`: the integrator step of
`integrators`, the noise of `noise`, the start of `initial`, the reductions of
`recording`) -> a `BatchResult` (`mpemba_jax.record`), checkpointed by
`checkpoint`. `simulate` and `run_batch` (`api`) are the public entry points.
"""

from .api import run_batch as run_batch
from .api import simulate as simulate
from .checkpoint import CheckpointStore as CheckpointStore
from .driver import SimulationDiverged as SimulationDiverged
from .driver import execute as execute
from .initial import chain_identity as chain_identity
from .initial import chain_state as chain_state
from .initial import equilibrium as equilibrium
from .initial import point as point
from .plan import RunPlan as RunPlan
from .plan import default_chunk_size as default_chunk_size
from .plan import make_plan as make_plan

__all__ = ["run_batch", "simulate", "CheckpointStore", "SimulationDiverged", "execute", "equilibrium", "chain_state", "chain_identity", "point",
           "RunPlan", "default_chunk_size", "make_plan"]
