"""The random stream (`mpemba_jax.engine.noise`): keying, laws, and what does and does not change it.

Same-key comparisons are exact (no tolerance). Moments of the cheap noise kinds
are checked against their exact values with standard errors from the exact
variance of each power, at the family-wise level of `conftest`.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mpemba_jax as mj
from conftest import assert_within_se
from mpemba_jax.engine import noise

IDS = jnp.asarray([0, 1, 7, 1000, 2**32 - 1], dtype=jnp.uint32)


def _jax_reference_keys(root, step, ids):
    step_key = jax.random.fold_in(jax.random.fold_in(root, 1), step)
    return jax.vmap(jax.random.fold_in, (None, 0))(step_key, ids)


@pytest.mark.parametrize("generator", noise.GENERATORS)
def test_block_keys_and_gaussian_noise_are_jax_random_normal(generator):
    # The documented stream: block b at step s draws
    # jax.random.normal(fold_in(fold_in(fold_in(key(seed), 1), s), b), (B, d + 1)),
    # whatever code computes it (the threefry hash is re-implemented for fusion).
    root = noise.root_key(2**40 + 3, generator)
    for step in (0, 5, 2**31 - 1):
        ref_keys = _jax_reference_keys(root, step, IDS)
        keys = noise.block_keys(root, step, IDS)
        assert np.array_equal(jax.random.key_data(keys), jax.random.key_data(ref_keys))
        ref = jax.vmap(lambda k: jax.random.normal(k, (64, 3), jnp.float32))(ref_keys)
        for fn in (noise.block_normals, jax.jit(noise.block_normals, static_argnums=(3, 4, 5))):
            got = fn(root, step, IDS, 64, 3, jnp.float32)
            assert np.array_equal(np.asarray(got), np.asarray(ref))


def test_float64_gaussian_noise_is_jax_random_normal():
    with jax.enable_x64(True):
        root = noise.root_key(11)
        ref = jax.vmap(lambda k: jax.random.normal(k, (32, 2), jnp.float64))(
            _jax_reference_keys(root, 3, IDS))
        got = noise.block_normals(root, 3, IDS, 32, 2, jnp.float64)
        assert got.dtype == jnp.float64 and np.array_equal(np.asarray(got), np.asarray(ref))


def test_threefry_hash_is_jax_bits():
    key = jax.random.key(123)
    data = jax.random.key_data(key)
    counter = jnp.arange(1000, dtype=jnp.uint32)
    b1, b2 = noise.threefry2x32(data[0], data[1], jnp.zeros_like(counter), counter)
    assert np.array_equal(np.asarray(b1 ^ b2), np.asarray(jax.random.bits(key, (1000,))))


@pytest.mark.parametrize("kind", ["rademacher", "three_point"])
def test_cheap_noise_is_unpacked_from_raw_words(kind):
    # Variate j of a block is read from word j // k of jax.random.bits(block key).
    root, B, W = noise.root_key(5), 48, 3
    words = np.asarray(jax.random.bits(_jax_reference_keys(root, 9, IDS[:2])[1], (B * W,)))
    got = np.asarray(noise.block_noise(root, 9, IDS[:2], B, W, jnp.float32, kind))[1].ravel()
    j = np.arange(B * W)
    if kind == "rademacher":
        expected = 1.0 - 2.0 * ((words[j // 32] >> (j % 32)) & 1)
    else:
        u = (words[j // 2] >> (16 * (j % 2))) & 0xFFFF
        c = noise.THREE_POINT_C
        expected = np.where(u < 10923, c, np.where(u < 2 * 10923, -c, 0.0))
    np.testing.assert_array_equal(got, expected.astype(np.float32))


@pytest.mark.statistical
@pytest.mark.parametrize("kind", ["gaussian", "rademacher", "three_point"])
def test_noise_moments_and_independence(kind):
    # 2^21 variates per column. Exact moments E xi^k, k = 1..6, and the
    # cross moments between the two columns and between consecutive steps.
    root, B = noise.root_key(2024), 1024
    ids = jnp.arange(1024, dtype=jnp.uint32)
    a = np.asarray(noise.block_noise(root, 4, ids, B, 2, jnp.float32, kind), np.float64)
    b = np.asarray(noise.block_noise(root, 5, ids, B, 2, jnp.float32, kind), np.float64)
    a, b = a.reshape(-1, 2), b.reshape(-1, 2)
    p, c = noise.THREE_POINT_P, noise.THREE_POINT_C
    exact = {  # E xi^k for k = 0..12
        "gaussian": [1, 0, 1, 0, 3, 0, 15, 0, 105, 0, 945, 0, 10395],
        "rademacher": [1, 0] * 6 + [1],
        "three_point": [1] + [0 if k % 2 else 2 * p * c**k for k in range(1, 13)],
    }[kind]
    estimates, errors, expected = [], [], []
    for col in (a[:, 0], a[:, 1]):
        for k in range(1, 7):
            estimates.append(np.mean(col**k))
            errors.append(np.sqrt((exact[2 * k] - exact[k] ** 2) / col.size))
            expected.append(exact[k])
    # cross moments: E[xi xi'] = 0, E[xi^2 xi'^2] = 1 (columns; consecutive steps)
    for u, v in ((a[:, 0], a[:, 1]), (a[:, 0], b[:, 0]), (a[:, 1], b[:, 1])):
        m2 = exact[2]
        estimates += [np.mean(u * v), np.mean(u**2 * v**2)]
        errors += [np.sqrt(m2 * m2 / u.size), np.sqrt((exact[4] ** 2 - 1) / u.size)]
        expected += [0.0, 1.0]
    estimates, errors, expected = map(np.asarray, (estimates, errors, expected))
    exact_value = errors == 0  # e.g. xi^2 = 1 for Rademacher: no spread at all
    np.testing.assert_allclose(estimates[exact_value], expected[exact_value], rtol=1e-12)
    assert_within_se(estimates[~exact_value], errors[~exact_value], expected[~exact_value],
                     f"{kind} moments")
    if kind == "rademacher":
        assert set(np.unique(a)) == {-1.0, 1.0}
    if kind == "three_point":
        assert set(np.unique(a)) == {-np.float32(c), 0.0, np.float32(c)}
        assert abs(c / np.sqrt(3) - 1) < 2e-5 and abs(p * 6 - 1) < 4e-5


@pytest.mark.statistical
def test_three_point_matches_gaussian_moments_through_the_fifth():
    p, c = noise.THREE_POINT_P, noise.THREE_POINT_C
    moments = [2 * p * c**k if k % 2 == 0 else 0.0 for k in range(1, 6)]
    np.testing.assert_allclose(moments, [0, 1, 0, 3, 0], atol=1e-4)
    assert moments[1] == pytest.approx(1.0, abs=1e-12)  # the variance exactly


def test_unknown_noise_kind_is_rejected():
    with pytest.raises(ValueError, match="noise must be one of"):
        noise.block_noise(noise.root_key(0), 0, IDS, 8, 2, jnp.float32, "uniform")
    with pytest.raises(ValueError, match="noise must be one of"):
        mj.simulate(mj.preset("harmonic"), mj.constant(0.01), n_particles=8, n_steps=2,
                    dt=0.1, noise="uniform", progress=False)


# -- what changes the stream (module docstring) -------------------------------
def _run(**kw):
    args = dict(n_particles=3000, n_steps=30, dt=0.5, seed=4, init=mj.point(0.5),
                record_steps=[30], bins=40, progress=False)
    args.update(kw)
    return mj.simulate(mj.preset("harmonic", valley_curvature=2.0), mj.constant(0.05), **args)


def _same(r1, r2):
    return np.array_equal(r1.counts, r2.counts) and np.array_equal(r1.sums, r2.sums)


@pytest.mark.parametrize("kind", noise.NOISE_KINDS)
def test_chunk_size_does_not_change_the_stream(kind):
    base = _run(noise=kind, integrator="leimkuhler_matthews")
    assert _same(base, _run(noise=kind, integrator="leimkuhler_matthews", chunk_size=1024))
    assert base.metadata["noise"] == kind


def test_seed_generator_noise_block_size_and_integrator_change_the_stream():
    base = _run()
    for change in (dict(seed=5), dict(generator="philox4x32"), dict(noise="three_point"),
                   dict(block_size=512), dict(integrator="leimkuhler_matthews")):
        assert not _same(base, _run(**change)), change
