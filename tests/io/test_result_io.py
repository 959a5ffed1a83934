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
    2^31 or more (`make_plan` caps a chunk below 2^31 particles).
    """
    extra = 2**30
    real = recording.make_record

    def make_record(landscape, bins, observables, n_groups=1):
        record = real(landscape, bins, observables, n_groups)

        def padded(x, y, valid, group_of):
            counts, sums = record(x, y, valid, group_of)
            # bin 3 of the (only) histogram group; slot 0 is underflow
            return counts.at[0, 1 + 3].add(jnp.int32(extra)), sums

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


DATA = Path(__file__).resolve().parents[1] / "data"


def test_format_1_results_still_load_and_rebuild_their_lr_table(tmp_path):
    """Result directories written before the LR table was stored (mpemba_jax 0.1.0)."""
    old = mj.load_result(DATA / "format1_wsd")
    assert isinstance(old, mj.SimulationResult)
    n_steps, dt = old.metadata["n_steps"], old.metadata["dt"]
    rebuilt = mj.lr_table(mj.wsd(0.1, 0.05, 2, 4, 6, "cosine"), n_steps, dt)
    np.testing.assert_array_equal(old.lr_steps, rebuilt)
    np.testing.assert_array_equal(old.lr, rebuilt[old.steps])
    assert old.metadata["lr_table"].startswith("rebuilt")
    assert old.counts.shape == (4, 12) and old.counts.dtype == np.int64
    assert old.counts[0].sum() + old.underflow[0] + old.overflow[0] == 600
    assert "y_cubed" in old.observables
    # The stored means (format 1 kept them) equal those derived from the sums.
    with np.load(DATA / "format1_wsd" / "arrays.npz") as z:
        np.testing.assert_array_equal(old.observables["y_cubed"], z["observable/y_cubed"])
        np.testing.assert_array_equal(old.standard_errors["loss"], z["standard_error/loss"])
    # A plain callable cannot be rebuilt: the LRs at the records are kept, NaN elsewhere,
    # and the metadata says why.
    lam = mj.load_result(DATA / "format1_lambda")
    np.testing.assert_array_equal(lam.lr_steps[lam.steps], 0.05)
    assert np.isnan(lam.lr_steps).sum() == n_steps + 1 - len(lam.steps)
    assert lam.metadata["lr_table"].startswith("missing")
    # Saved again, it is a format-2 directory that loads to the same record.
    again = mj.load_result(old.save(tmp_path / "again"))
    np.testing.assert_array_equal(again.lr_steps, old.lr_steps)
    np.testing.assert_array_equal(again.sums, old.sums)


def test_batch_result_round_trip(tmp_path):
    batch = mj.run_batch(LAND, {"a": mj.constant(0.05), "b": mj.constant(0.08)},
                         init=mj.equilibrium(0.1), **RUN)
    loaded = mj.load_result(batch.save(tmp_path / "batch"))
    assert isinstance(loaded, mj.BatchResult) and loaded.names == ("a", "b")
    for f in ("steps", "lr_steps", "bin_edges", "counts", "underflow", "overflow", "nonfinite",
              "sums", "group_sums"):
        np.testing.assert_array_equal(getattr(loaded, f), getattr(batch, f), err_msg=f)
    assert loaded.metadata == json.loads(json.dumps(batch.metadata, default=str))
    _assert_same(loaded.result("b"), batch.result("b"))
