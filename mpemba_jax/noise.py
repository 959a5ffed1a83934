"""How every particle's noise is keyed.

Particles are grouped into fixed *noise blocks* of `block_size` consecutive
particle indices. The Gaussian vector of block `b` at step `s` is

    normal(fold_in(fold_in(fold_in(key(seed), DYNAMICS), s), b), (block_size, d + 1))

and the initial state of block `b` uses `fold_in(fold_in(key(seed), INIT), b)`.
A particle's noise therefore depends only on `(seed, generator, block_size,
its global index, step, dtype)`; never on how particles are split into memory
chunks or sharded over devices, so results are identical across chunk sizes
and device counts, and a run resumed at step `s` regenerates exactly the noise
it would have drawn. The random-number "position" of a run is just its step.

What changes the random stream: `seed`, `generator`, `block_size`, `dtype`,
the valley dimension (the vector length `d + 1`) and the integrator (which
decides how the normals are used). Chunk size, device count and the number
of records do not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["GENERATORS", "root_key", "block_normals", "block_init_keys"]

GENERATORS = ("threefry2x32", "rbg", "unsafe_rbg")
# Stream tags folded into the root key.
_INIT, _DYNAMICS = 0, 1


def root_key(seed: int, generator: str = "threefry2x32") -> jax.Array:
    """Typed root key of a run."""
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {GENERATORS}; got {generator!r}")
    return jax.random.key(seed, impl=generator)


def block_normals(root: jax.Array, step, block_ids: jax.Array, block_size: int,
                  width: int, dtype) -> jax.Array:
    """Standard normals of shape `(n_blocks, block_size, width)` for `step`.

    `block_ids` is `(n_blocks,)` of global block indices.
    """
    step_key = jax.random.fold_in(jax.random.fold_in(root, _DYNAMICS), step)
    keys = jax.vmap(jax.random.fold_in, (None, 0))(step_key, block_ids)
    return jax.vmap(lambda k: jax.random.normal(k, (block_size, width), dtype))(keys)


def block_init_keys(root: jax.Array, block_ids: jax.Array) -> jax.Array:
    """Keys `(n_blocks,)` for sampling the initial state of each block."""
    return jax.vmap(jax.random.fold_in, (None, 0))(jax.random.fold_in(root, _INIT), block_ids)
