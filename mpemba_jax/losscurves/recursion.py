"""The affine recursion `x_{s+1} = rho_s x_s + q_s` over a whole LR table, in JAX.

Every second moment of a quadratic direction under Euler–Maruyama steps obeys
such a recursion (`theory.valley`: `rho = (1 - mu a h)^2`, `q = 2 mu T h`), and
a loss curve needs it over tens of thousands of steps for many directions at
once, differentiably. A step-by-step `lax.scan` is latency-bound on a CPU;
here the steps are cut into blocks of `block` steps, the affine maps compose
within each block by `lax.associative_scan` (the composition of
`x -> rho_1 x + q_1` then `x -> rho_2 x + q_2` is `x -> rho_2 rho_1 x +
(rho_2 q_1 + q_2)`), and a short scan carries `x` from block to block. The
result is the recursion itself, iterated in another order: it agrees with the
step-by-step loop to round-off (tested), with no division by products of
`rho` that could underflow.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["affine_recursion"]


def _compose(first, second):
    rho1, q1 = first
    rho2, q2 = second
    return rho2 * rho1, rho2 * q1 + q2


def affine_recursion(rho: jax.Array, q: jax.Array, x0: jax.Array, block: int = 128) -> jax.Array:
    """All iterates of `x_{s+1} = rho_s x_s + q_s` from `x_0 = x0`.

    Args:
      rho, q: `(n, ...)` the coefficients of steps `s = 0 .. n - 1`.
      x0: `(...)` the start, broadcast to `rho.shape[1:]`.
      block: steps composed in parallel per block.

    Returns: `(n + 1, ...)`, row `s` the value after `s` steps.

    Example:
      >>> affine_recursion(jnp.full(3, 0.5), jnp.ones(3), 0.0)   # 0, 1, 1.5, 1.75
      Array([0.  , 1.  , 1.5 , 1.75], dtype=float32)
    """
    rho = jnp.asarray(rho)
    q = jnp.asarray(q)
    n = rho.shape[0]
    tail = rho.shape[1:]
    x0 = jnp.broadcast_to(jnp.asarray(x0, rho.dtype), tail)
    n_blocks = -(-n // block)
    pad = n_blocks * block - n
    # Padding with identity maps (rho = 1, q = 0) leaves every iterate unchanged.
    rho = jnp.concatenate([rho, jnp.ones((pad,) + tail, rho.dtype)]).reshape(
        (n_blocks, block) + tail)
    q = jnp.concatenate([q, jnp.zeros((pad,) + tail, q.dtype)]).reshape((n_blocks, block) + tail)
    rho_in, q_in = jax.lax.associative_scan(_compose, (rho, q), axis=1)

    def carry(x, maps):
        return maps[0] * x + maps[1], x

    _, starts = jax.lax.scan(carry, x0, (rho_in[:, -1], q_in[:, -1]))
    after = rho_in * starts[:, None] + q_in
    return jnp.concatenate([x0[None], after.reshape((n_blocks * block,) + tail)[:n]])
