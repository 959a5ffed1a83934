"""The compiled kernels of a run: advance steps, find a blow-up, record, initialise.

A kernel works on one schedule's particles of the current chunk, `x (cb, B, d)`,
`y (cb, B)` (`cb` noise blocks of `B` particles). A batch of schedules calls
the same kernels once per schedule: schedule `i` of a batch runs the very
compiled computation it runs alone, so it is bit for bit the same (a kernel
mapped or vmapped over a schedule axis is fused differently by XLA, which
then may contract multiply-adds differently: measured to drift the float32
state in the last bit, landscape by landscape).

Kernels are compiled once per landscape, convention, scheme and noise
(`lru_cache`); seeds, LR tables, `dt` and step ranges are traced arguments, so
a new run of the same landscape never recompiles.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from . import initial as _initial
from . import noise as _noise
from . import recording as _recording
from .integrators import averages_noise, lm_noise, make_step

__all__ = ["step_kernels", "record_kernel", "init_kernel"]


@functools.lru_cache(maxsize=32)
def step_kernels(landscape, dynamics, integrator, block_size, dtype, noise="gaussian",
                 unroll=1):
    """`advance` and `first_nonfinite_step` of this landscape and scheme.

    advance(root, x, y, block_ids, lr_table, dt, s0, n) -> (x, y, n_nonfinite)
      runs steps `s0 .. s0 + n - 1`; `lr_table (n_steps + 1,)`.
    first_nonfinite_step(root, x, y, block_ids, lr_table, dt, s0, n) -> step
      replays them: the first step whose update left a particle non-finite.

    Step `s` always uses the noise keyed by `(seed, s, block)`; the
    Leimkuhler–Matthews scheme carries step `s + 1`'s draw to the next
    iteration and redraws step `s0`'s at the start of a call, so however a run
    is cut into calls and chunks every step sees the same numbers. `unroll`
    steps run per loop iteration (measured in docs/performance.md).
    """
    step = make_step(landscape, dynamics, integrator)
    width = landscape.valley_dim + 1
    averaged = averages_noise(integrator)

    def draw(root, block_ids, s):
        return _noise.block_noise(root, s, block_ids, block_size, width, dtype, noise)

    def start(root, block_ids, s0, x, y):
        return (x, y, draw(root, block_ids, s0)) if averaged else (x, y)

    def one_step(root, block_ids, lr_table, dt, s, state):
        if averaged:  # step s moves with (xi_s + xi_{s+1}) / 2, xi_{s+1} carried on
            x, y, xi = state
            xi_next = draw(root, block_ids, s + 1)
            x, y = step(x, y, lm_noise(xi, xi_next, landscape), lr_table[s], dt)
            return x, y, xi_next
        x, y = state
        return step(x, y, draw(root, block_ids, s), lr_table[s], dt)

    def run_steps(root, block_ids, lr_table, dt, s0, n, state):
        one = lambda s, c: one_step(root, block_ids, lr_table, dt, s, c)  # noqa: E731
        if unroll > 1:
            def fused(i, c):
                for j in range(unroll):
                    c = one(s0 + i * unroll + j, c)
                return c
            state = jax.lax.fori_loop(0, n // unroll, fused, state)
            s0, n = s0 + n // unroll * unroll, n % unroll
        return jax.lax.fori_loop(s0, s0 + n, one, state)

    def n_nonfinite(x, y):
        return jnp.sum(~(jnp.isfinite(y) & jnp.all(jnp.isfinite(x), axis=-1)))

    @jax.jit
    def advance(root, x, y, block_ids, lr_table, dt, s0, n):
        state = run_steps(root, block_ids, lr_table, dt, s0, n, start(root, block_ids, s0, x, y))
        x, y = state[0], state[1]
        return x, y, n_nonfinite(x, y)

    @jax.jit
    def first_nonfinite_step(root, x, y, block_ids, lr_table, dt, s0, n):
        def body(s, c):
            state, first = c
            state = one_step(root, block_ids, lr_table, dt, s, state)
            bad = n_nonfinite(state[0], state[1]) > 0
            return state, jnp.where((first < 0) & bad, s, first)
        init = (start(root, block_ids, s0, x, y), jnp.asarray(-1, s0.dtype))
        return jax.lax.fori_loop(s0, s0 + n, body, init)[1]

    return advance, first_nonfinite_step


@functools.lru_cache(maxsize=32)
def record_kernel(landscape, edges: tuple, uniform: bool, observables: tuple, n_groups: int = 1):
    """`record(x, y, valid, group_of) -> (counts (n_groups, n_bins + 3) int32,
    sums (cb, n_terms))` (see `recording.make_record`)."""
    bins = _recording.Bins(np.asarray(edges), uniform)
    return jax.jit(_recording.make_record(landscape, bins, observables, n_groups))


@functools.lru_cache(maxsize=32)
def init_kernel(landscape, block_size: int, dtype, kind: str):
    """`init_state(root, block_ids, params) -> (x (cb, B, d), y (cb, B))` for a
    "point", "equilibrium" or "chain" start (`initial.sample_blocks`)."""
    @jax.jit
    def init_state(root, block_ids, params):
        keys = _noise.block_init_keys(root, block_ids)
        return _initial.sample_blocks(kind, landscape, keys, block_size, dtype, params)

    return init_state
