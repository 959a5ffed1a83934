"""How every particle's noise is keyed and drawn.

Keying. Particles are grouped into fixed *noise blocks* of `block_size`
consecutive particle indices. Block `b` at step `s` owns the key

    k(s, b) = fold_in(fold_in(fold_in(key(seed, generator), DYNAMICS), s), b)

and the initial state of block `b` uses `fold_in(fold_in(key(seed), INIT), b)`.
A particle's noise therefore depends only on its global index and the step,
never on how particles are split into memory chunks or sharded over devices:
results are identical across chunk sizes and device counts, and a run resumed
at step `s` regenerates exactly the noise it would have drawn. The
random-number "position" of a run is just its step.

Drawing. Every kind of noise is a transform of raw 32-bit words
`bits(k(s, b), n_words)` (the generator's `jax.random.bits`), read in order:

- `"gaussian"`: one word per variate, `sqrt(2) erfinv(u)` with `u` uniform
  on `(-1, 1)` from the word's top 23 bits: the float32 normals are exactly
  `jax.random.normal(k(s, b), (block_size, d + 1))` (float64 runs call that
  function itself);
- `"rademacher"`: `+-1` with probability 1/2, 32 variates per word (variate
  `j` is bit `j % 32` of word `j // 32`);
- `"three_point"`: `+-c` with probability `p` each and `0` otherwise, two
  variates per word (16 bits each, low half first): `p = 10923 / 65536`
  (1/6 to 3e-5 relative) and `c = (2 p)^(-1/2)` (`sqrt(3)` to 2e-5 relative),
  so the mean, the variance (exactly 1) and the third and fifth moments are
  Gaussian, and the fourth is `1 / (2 p)`, 3 to 3e-5 relative.

For histograms only the weak order matters: an Euler–Maruyama step needs the
noise's moments right through the third (Rademacher suffices); second-order
schemes (Leimkuhler–Matthews) need them through the fifth (three-point).

On CPU the threefry hash is written out here in `jax.numpy` (bit for bit the
hash of `jax.random.bits`), so that XLA fuses it with the step that uses it;
JAX's own CPU lowering runs it as a rolled loop over arrays in memory.

What changes the random stream: `seed`, `generator`, `noise` kind, `dtype`
(for Gaussian noise), `block_size`, the valley dimension (the vector length
`d + 1`) and the integrator (which decides how the variates are used; the
Leimkuhler–Matthews step `s` uses the variates of steps `s` and `s + 1`).
Chunk size, device count, the number of records and how a run is split into
compiled calls do not.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["GENERATORS", "NOISE_KINDS", "root_key", "block_noise", "block_normals",
           "block_bits", "block_init_keys", "THREE_POINT_P", "THREE_POINT_C"]

# JAX's counter-based generators usable as typed keys in this JAX; the
# default (threefry2x32) is chosen by measurement, see docs/performance.md.
GENERATORS = ("threefry2x32", "philox4x32", "rbg", "unsafe_rbg")
NOISE_KINDS = ("gaussian", "rademacher", "three_point")
# Stream tags folded into the root key.
_INIT, _DYNAMICS = 0, 1

_THREE_POINT_M = 10923  # round(2^16 / 6)
THREE_POINT_P = _THREE_POINT_M / 65536.0
THREE_POINT_C = 1.0 / math.sqrt(2.0 * THREE_POINT_P)
_DRAWS_PER_WORD = {"gaussian": 1, "rademacher": 32, "three_point": 2}


def root_key(seed: int, generator: str = "threefry2x32") -> jax.Array:
    """Typed root key of a run."""
    if generator not in GENERATORS:
        raise ValueError(f"generator must be one of {GENERATORS}; got {generator!r}")
    return jax.random.key(seed, impl=generator)


def block_keys(root: jax.Array, step, block_ids: jax.Array) -> jax.Array:
    """Keys `k(step, b)` of shape `(n_blocks,)` for global block indices `block_ids`."""
    if not _fast_threefry(root):
        step_key = jax.random.fold_in(jax.random.fold_in(root, _DYNAMICS), step)
        return jax.vmap(jax.random.fold_in, (None, 0))(step_key, block_ids)
    # `jax.random.fold_in(key, v)` for threefry is the hash of the counter (0, v).
    k1, k2 = (jax.random.key_data(root)[..., i] for i in (0, 1))
    for v in (np.uint32(_DYNAMICS), jnp.asarray(step).astype(jnp.uint32), block_ids):
        k1, k2 = threefry2x32(k1, k2, jnp.zeros_like(v), v)
    # Materialised: every variate of a block reads its key, none re-derives it.
    data = lax.optimization_barrier(jnp.stack([k1, k2], axis=-1))
    return jax.random.wrap_key_data(data, impl="threefry2x32")


def block_noise(root: jax.Array, step, block_ids: jax.Array, block_size: int, width: int,
                dtype, kind: str = "gaussian") -> jax.Array:
    """Unit-variance noise of shape `(n_blocks, block_size, width)` for `step`.

    `block_ids` is `(n_blocks,)` of global block indices; `kind` is one of
    `NOISE_KINDS` (see the module docstring for each law).

    Example:
      >>> import jax.numpy as jnp
      >>> root = root_key(0)
      >>> block_noise(root, 3, jnp.arange(2, dtype=jnp.uint32), 8, 2, jnp.float32,
      ...             "rademacher").shape
      (2, 8, 2)
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise must be one of {NOISE_KINDS}; got {kind!r}")
    keys = block_keys(root, step, block_ids)
    n = block_size * width
    if kind == "gaussian":
        if jnp.dtype(dtype) != jnp.float32 or not _counter_based(keys):
            return jax.vmap(lambda k: jax.random.normal(k, (block_size, width), dtype))(keys)
        # One column at a time (word i * width + c): the step's x and y updates
        # then each fuse the generation of their own column; a shared
        # (B, width) array would be materialised between them.
        columns = [_normal_from_bits(block_bits(keys, block_size, width, c))
                   for c in range(width)]
        return jnp.stack(columns, axis=-1)
    # Several variates per word: materialise the few words, so that XLA does not
    # re-hash a word for every variate it holds.
    words = lax.optimization_barrier(block_bits(keys, -(-n // _DRAWS_PER_WORD[kind])))
    if kind == "rademacher":
        values = _rademacher_from_bits(words, n)
    else:
        values = _three_point_from_bits(words, n)
    return values.reshape(keys.shape[0], block_size, width).astype(dtype)


def block_normals(root: jax.Array, step, block_ids: jax.Array, block_size: int,
                  width: int, dtype) -> jax.Array:
    """Standard normals `(n_blocks, block_size, width)` for `step`: `block_noise(..., "gaussian")`."""
    return block_noise(root, step, block_ids, block_size, width, dtype, "gaussian")


def block_bits(keys: jax.Array, n_words: int, stride: int = 1, offset: int = 0) -> jax.Array:
    """Raw words `(n_blocks, n_words)` uint32: word `j` of row `b` is word
    `offset + j * stride` of `jax.random.bits(keys[b], (offset + n_words * stride,))`."""
    if _fast_threefry(keys):
        data = jax.random.key_data(keys)
        counter = lax.broadcasted_iota(jnp.uint32, (1, n_words), 1) * np.uint32(stride)
        counter = counter + np.uint32(offset)
        b1, b2 = threefry2x32(data[:, 0:1], data[:, 1:2], jnp.zeros_like(counter), counter)
        return b1 ^ b2
    total = offset + n_words * stride
    words = jax.vmap(lambda k: jax.random.bits(k, (total,), jnp.uint32))(keys)
    return words[:, offset::stride]


def _impl(keys: jax.Array) -> str:
    return str(jax.random.key_impl(keys))


def _fast_threefry(keys: jax.Array) -> bool:
    """Threefry keys whose bits this module computes itself (bit for bit JAX's)."""
    return _impl(keys) == "threefry2x32" and bool(jax.config.jax_threefry_partitionable)


def _counter_based(keys: jax.Array) -> bool:
    """Whether word `j` of `jax.random.bits(key, shape)` depends on `j` alone (not on
    the shape), so that words can be drawn column by column."""
    return _impl(keys) in ("threefry2x32", "philox4x32")


def block_init_keys(root: jax.Array, block_ids: jax.Array) -> jax.Array:
    """Keys `(n_blocks,)` for sampling the initial state of each block."""
    return jax.vmap(jax.random.fold_in, (None, 0))(jax.random.fold_in(root, _INIT), block_ids)


# ---------------------------------------------------------------------------
# Bits to variates
# ---------------------------------------------------------------------------
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))


def threefry2x32(k1, k2, x1, x2):
    """The Threefry-2x32 hash (20 rounds) of counters `(x1, x2)` under key `(k1, k2)`.

    Elementwise over broadcast uint32 arrays; bit for bit JAX's `threefry2x32`
    primitive, unrolled so that XLA can fuse it with its consumers.
    """
    def rotl(v, r):
        return (v << np.uint32(r)) | (v >> np.uint32(32 - r))

    ks = (k1, k2, k1 ^ k2 ^ np.uint32(0x1BD11BDA))
    x1, x2 = x1 + ks[0], x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = x1 ^ rotl(x2, r)
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def _normal_from_bits(bits: jax.Array) -> jax.Array:
    """float32 normals, the transform of `jax.random.normal`: `sqrt(2) erfinv(u)`."""
    lo = np.nextafter(np.float32(-1.0), np.float32(0.0))
    # JAX builds u in [0, 1) by bitcasting the top 23 bits under the exponent of
    # 1.0 and subtracting 1; converting them and scaling by 2^-23 is the same
    # number exactly, and XLA's CPU backend vectorises it much better.
    u = (bits >> np.uint32(9)).astype(jnp.float32) * np.float32(2.0**-23)
    u = jnp.maximum(lo, u * (np.float32(1.0) - lo) + lo)
    return np.float32(math.sqrt(2.0)) * lax.erf_inv(u)


def _rademacher_from_bits(words: jax.Array, n: int) -> jax.Array:
    """`(n_blocks, n)` float32 signs: variate `j` is bit `j % 32` of word `j // 32`."""
    shift = lax.broadcasted_iota(jnp.uint32, (1, 1, 32), 2)
    bit = ((words[..., None] >> shift) & np.uint32(1)).astype(jnp.float32)
    return (np.float32(1.0) - np.float32(2.0) * bit).reshape(words.shape[0], -1)[:, :n]


def _three_point_from_bits(words: jax.Array, n: int) -> jax.Array:
    """`(n_blocks, n)` float32 three-point variates, two per word (low half first)."""
    shift = lax.broadcasted_iota(jnp.uint32, (1, 1, 2), 2) * np.uint32(16)
    u = ((words[..., None] >> shift) & np.uint32(0xFFFF)).reshape(words.shape[0], -1)[:, :n]
    c = np.float32(THREE_POINT_C)
    m = np.uint32(_THREE_POINT_M)
    return jnp.where(u < m, c, jnp.where(u < 2 * m, -c, np.float32(0.0)))
