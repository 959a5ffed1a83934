"""Result directories: exact round trip, no clobbering, corrupt files named, int64 counts."""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest

import mpemba_jax as mj
import mpemba_jax.engine.recording as recording

LAND = mj.preset("double_well")
RUN = dict(n_particles=1000, n_steps=30, dt=1.0, seed=11, block_size=256, chunk_size=512,
           record_every=10, bins=40, progress=False)


@pytest.fixture(scope="module")
def result():
    return mj.simulate(LAND, mj.quench(0.2, 0.05), init=mj.equilibrium(0.2),
                       observables={"y_cubed": lambda x, y: y**3}, **RUN)


def _files(path: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(path.iterdir())}


def _assert_same(a: mj.SimulationResult, b: mj.SimulationResult) -> None:
    for name in ("steps", "times", "lr", "bin_edges", "counts", "underflow", "overflow",
                 "nonfinite", "sums"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.observables.keys() == b.observables.keys() == a.standard_errors.keys()
    for name in a.observables:
        np.testing.assert_array_equal(a.observables[name], b.observables[name])
        np.testing.assert_array_equal(a.standard_errors[name], b.standard_errors[name])
    assert a.sum_names == b.sum_names
    assert a.metadata == b.metadata


def test_round_trip_is_exact(result, tmp_path):
    assert result.counts.dtype == np.int64 and result.nonfinite.dtype == np.int64
    assert "y_cubed" in result.observables
    path = result.save(tmp_path / "run")
    assert sorted(_files(path)) == ["arrays.npz", "metadata.json"]
    _assert_same(result, mj.load_result(path))


def test_existing_directory_is_never_clobbered(result, tmp_path):
    path = tmp_path / "run"
    result.save(path)
    (path / "notes.txt").write_text("mine")
    before = _files(path)
    other = mj.simulate(LAND, mj.constant(0.05), init=mj.point(0.5), **RUN)
    with pytest.raises(FileExistsError, match="run"):
        other.save(path)
    assert _files(path) == before
    # A save that fails half-way leaves neither the target nor a temporary behind.
    with pytest.raises(RuntimeError, match="disk full"):
        other.save(tmp_path / "second", extra=lambda tmp: (_ for _ in ()).throw(RuntimeError("disk full")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # overwrite=True replaces it whole (the old directory's files go too).
    other.save(path, overwrite=True)
    _assert_same(other, mj.load_result(path))
    assert not (path / "notes.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def _saved(result, tmp_path) -> Path:
    return result.save(tmp_path / "run")


def test_truncated_arrays_fail_naming_the_file(result, tmp_path):
    path = _saved(result, tmp_path)
    data = (path / "arrays.npz").read_bytes()
    (path / "arrays.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"arrays\.npz.*truncated or edited"):
        mj.load_result(path)


def test_edited_arrays_fail_naming_the_file(result, tmp_path):
    path = _saved(result, tmp_path)
    with np.load(path / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["counts"][0, 0] += 1
    np.savez(path / "arrays.npz", **arrays)
    with pytest.raises(ValueError, match=r"arrays\.npz"):
        mj.load_result(path)


def test_truncated_metadata_fails_naming_the_file(result, tmp_path):
    path = _saved(result, tmp_path)
    text = (path / "metadata.json").read_text()
    (path / "metadata.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"metadata\.json.*not valid JSON"):
        mj.load_result(path)


@pytest.mark.parametrize("edit", ["dt", "n_particles", "drop_checksum"])
def test_edited_metadata_fails_naming_the_file(result, tmp_path, edit):
    # Valid JSON with a changed number would otherwise load as wrong numbers.
    path = _saved(result, tmp_path)
    meta = json.loads((path / "metadata.json").read_text())
    if edit == "drop_checksum":
        meta.pop("metadata_sha256")
    else:
        meta[edit] = meta[edit] * 2
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"metadata\.json does not match its recorded checksum"):
        mj.load_result(path)


@pytest.mark.parametrize("missing", ["arrays.npz", "metadata.json"])
def test_missing_file_is_named(result, tmp_path, missing):
    path = _saved(result, tmp_path)
    (path / missing).unlink()
    with pytest.raises(ValueError, match=missing.replace(".", r"\.") + " is missing"):
        mj.load_result(path)


def test_chunked_counts_beyond_int32_are_exact(tmp_path, monkeypatch):
    """Covers: the per-chunk int32 histogram -> int64 host total -> saved file path.

    Each chunk's record kernel reports 2^30 extra particles in one bin (as a
    chunk of 2^30 particles would, which fits int32); four chunks make a total
    of 2^32 + N per record. Totals kept in int32 (or float32) anywhere between
    the kernel and the loaded file would wrap or round. The real particles are
    frozen (LR 0: no drift, no noise), so the true counts are known exactly.
    It does not run 2^31 real particles, and does not cover a single chunk of
    2^31 or more (`plan_run` caps a chunk below 2^31 particles).
    """
    extra = 2**30
    real = recording.make_record

    def make_record(landscape, bins, observables):
        record = real(landscape, bins, observables)

        def padded(x, y, valid):
            counts, sums = record(x, y, valid)
            return counts.at[1 + 3].add(jnp.int32(extra)), sums  # bin 3 (slot 0 is underflow)

        return padded

    monkeypatch.setattr(recording, "make_record", make_record)
    land = mj.preset("harmonic")  # a new object: the cached record kernels do not apply
    n = 3 * 256 + 5  # the last chunk is partly padding, which must not be counted
    res = mj.simulate(land, mj.constant(0.0), n_particles=n, n_steps=4, dt=1.0,
                      init=mj.point(-0.25), bins=8, bin_range=(-1.0, 1.0), block_size=256,
                      chunk_size=256, record_every=2, progress=False)
    n_chunks = 4
    assert res.metadata["chunk_size"] == 256
    expected = np.zeros((3, 8), np.int64)
    expected[:, 3] = n + n_chunks * extra  # y = -0.25 lies in bin 3 of 8 on [-1, 1]
    assert expected[0, 3] > 2**32
    assert res.counts.dtype == np.int64
    np.testing.assert_array_equal(res.counts, expected)
    np.testing.assert_array_equal(res.underflow + res.overflow + res.nonfinite, 0)
    loaded = mj.load_result(res.save(tmp_path / "big"))
    assert loaded.counts.dtype == np.int64
    np.testing.assert_array_equal(loaded.counts, expected)
