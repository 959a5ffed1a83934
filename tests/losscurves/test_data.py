"""The loader and the LR tables of the shared schedules (data/loss_curves/README.md)."""

import numpy as np
import pytest

import mpemba_jax as mj
from mpemba_jax.losscurves import DATA_ROOT, SHARED_FILES, SHARED_SIZES


def test_warmup_and_plateaus_follow_the_readme():
    for name in ("constant_24000", "cosine_24000", "wsdcon_9"):
        lr = mj.shared_lr_table(name)
        # Linear warm-up over steps 0..2159: lr[i] = 3e-4 i / 2159.
        np.testing.assert_allclose(lr[:2160], 3e-4 * np.arange(2160) / 2159, rtol=1e-15)
        assert lr[0] == 0.0 and lr[2159] == 3e-4
    assert len(mj.shared_lr_table("constant_24000")) == 24000
    assert np.all(mj.shared_lr_table("constant_24000")[2160:] == 3e-4)
    wsd = mj.shared_lr_table("wsdcon_9")
    assert len(wsd) == 16000
    assert np.all(wsd[2160:8000] == 3e-4) and np.all(wsd[8000:] == 9e-5)
    assert mj.shared_lr_table("wsdcon_3")[8000] == pytest.approx(3e-5)


def test_cosine_table_matches_the_formula_at_its_ends():
    lr = mj.shared_lr_table("cosine_24000")
    s = np.arange(2160, 24000)
    expected = 3e-5 + 0.5 * (3e-4 - 3e-5) * (1 + np.cos(np.pi * (s - 2160) / (24000 - 2160)))
    np.testing.assert_allclose(lr[2160:], expected, rtol=1e-15)
    assert lr[2160] == pytest.approx(3e-4) and lr[-1] == pytest.approx(3e-5, rel=1e-4)
    assert np.all(np.diff(lr[2160:]) < 0)


@pytest.mark.parametrize("size", SHARED_SIZES)
def test_every_shared_file_loads_and_agrees_with_its_table(size):
    curves = mj.load_shared_curves(size)
    assert [c.name for c in curves] == list(SHARED_FILES)
    for c in curves:
        # The loader has already checked every logged LR against the table
        # (relative 1e-6); check the shape of what came back.
        assert c.steps[0] in (2160, 2176) and c.steps[-1] < c.n_steps
        assert np.all(np.diff(c.steps) > 0) and np.all(c.loss > 2) and np.all(c.loss < 5)
        assert len(c.steps) == len(c.loss) >= 90
    assert curves[0].n_steps == curves[1].n_steps == 24000 and curves[2].n_steps == 16000


def test_the_loader_refuses_a_table_that_is_not_the_runs(tmp_path):
    path = DATA_ROOT / "25" / "wsdcon_9.csv"
    with pytest.raises(ValueError, match="lrs: the table gives"):
        mj.load_loss_curve(path, mj.shared_lr_table("wsdcon_6"))
    with pytest.raises(ValueError, match="lrs: the table gives"):
        mj.load_loss_curve(path, mj.shared_lr_table("constant_24000"))
    # A callable schedule is evaluated at every step.
    c = mj.load_loss_curve(path, lambda s: float(mj.shared_lr_table("wsdcon_9")[s]), n_steps=16000)
    np.testing.assert_array_equal(c.lrs, mj.shared_lr_table("wsdcon_9"))


def test_a_csv_without_lr_column_takes_the_table_given(tmp_path):
    f = tmp_path / "run.csv"
    f.write_text("step,loss\n10,3.0\n20,2.9\n")
    c = mj.load_loss_curve(f, np.full(30, 1e-3))
    assert c.name == "run" and list(c.steps) == [10, 20]
    np.testing.assert_allclose(c.lr_area(), [0.01, 0.02])


@pytest.mark.parametrize("kwargs, match", [
    (dict(lrs=np.full(10, 1e-3), steps=[1, 11], loss=[3.0, 2.0]), "steps must lie in"),
    (dict(lrs=np.full(10, 1e-3), steps=[3, 2], loss=[3.0, 2.0]), "strictly increasing"),
    (dict(lrs=np.full(10, 1e-3), steps=[1, 2], loss=[3.0, -1.0]), "loss must be finite"),
    (dict(lrs=np.full(10, -1e-3), steps=[1, 2], loss=[3.0, 2.0]), "lrs must be finite"),
    (dict(lrs=np.full(10, 1e-3), steps=[1, 2], loss=[3.0]), "loss must have the shape"),
])
def test_bad_curves_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mj.LossCurve(**kwargs)


def test_bad_names_and_sizes_are_refused():
    with pytest.raises(ValueError, match="name must be"):
        mj.shared_lr_table("linear_24000")
    with pytest.raises(ValueError, match="size must be one of"):
        mj.load_shared_curves("7")
