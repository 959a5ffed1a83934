"""Every row of docs/errors.md: its example call raises `ValueError` with exactly that message.

The table is the single list of rejected inputs. Its example calls are
evaluated here in the namespace the document describes (`mj`, `np`, `jnp`,
`optax`, `H`, `cfg`, `demo`, `DROP`, `load_toml`); the message column must
equal what the code says, and must name the row's argument. After changing a
message in the code, regenerate the column with

    python tests/test_errors.py --write

Simulation rows must fail while planning: `execute` (the compiled part) is
replaced by a tripwire, so a check that slipped into run time fails the test.
The run-time guard (`SimulationDiverged`, `on_nonfinite="count"`) is tested
at the end.
"""

from __future__ import annotations

import copy
import re
import sys
import tempfile
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import mpemba_jax as mj
import mpemba_jax.io.config as cfg

import mpemba_jax.engine.api as engine_api

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
# Where `load_toml` writes; messages show it as this placeholder.
TMP_PLACEHOLDER = "<tmp>"
_PIPE = re.compile(r"(?<!\\)\|")


class Row:
    def __init__(self, line_no: int, area: str, what: str, argument: str, call: str, message: str):
        self.line_no, self.area, self.what = line_no, area, what
        self.argument, self.call, self.message = argument, call, message

    def __repr__(self) -> str:
        return f"docs/errors.md:{self.line_no} ({self.what})"


def _unquote(cell: str) -> str:
    cell = cell.strip().replace("\\|", "|")
    if cell.startswith("``") and cell.endswith("``"):
        return cell[2:-2].strip()
    if cell.startswith("`") and cell.endswith("`"):
        return cell[1:-1]
    return cell


def _quote(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def read_rows(text: str) -> list[Row]:
    """The table rows: `| area | input | argument | call | message |`, after the header."""
    rows = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.startswith("|") or line.startswith("|---") or line.startswith("| Area"):
            continue
        cells = [_unquote(c) for c in _PIPE.split(line.strip())[1:-1]]
        assert len(cells) == 5, f"docs/errors.md:{i}: expected 5 cells, got {len(cells)}"
        rows.append(Row(i, *cells))
    return rows


def namespace(tmp: Path) -> dict:
    """The names the document's example calls use."""

    def demo(**sections):
        """The demo config with `section={key: value}` replaced (`DROP` removes a key)."""
        out = copy.deepcopy(cfg.DEMO)
        for section, table in sections.items():
            if table is DROP:
                out.pop(section)
            elif not isinstance(table, dict) or section not in out:
                out[section] = table
            else:
                for key, value in table.items():
                    if value is DROP:
                        out[section].pop(key)
                    else:
                        out[section][key] = value
        return out

    def load_toml(text: str):
        path = tmp / "run.toml"
        path.write_text(text)
        return cfg.load_config(path)

    DROP = _Drop()
    return {"mj": mj, "np": np, "jnp": jnp, "optax": optax, "cfg": cfg,
            "H": mj.preset("harmonic"), "demo": demo, "DROP": DROP, "load_toml": load_toml}


class _Drop:
    """Marker: remove this key (or section) in `demo(...)`."""

    def __repr__(self) -> str:
        return "DROP"


def message_of(row: Row, ns: dict, tmp: Path) -> str:
    """The message `row.call` raises, with the temporary directory as `<tmp>`."""
    try:
        eval(row.call, ns)  # noqa: S307 - the calls are this repository's documentation
    except ValueError as e:
        return str(e).replace(str(tmp), TMP_PLACEHOLDER)
    raise AssertionError(f"{row}: `{row.call}` raised no ValueError")


ROWS = read_rows(DOC.read_text())


def test_table_covers_every_area_and_at_least_20_kinds():
    areas = {r.area for r in ROWS}
    assert {"landscape", "schedule", "simulation", "theory", "config"} <= areas
    assert len(ROWS) >= 20
    assert len({r.call for r in ROWS}) == len(ROWS), "duplicate example calls"


@pytest.fixture
def no_compiled_work(monkeypatch):
    def tripwire(*args, **kwargs):
        raise AssertionError("the bad input reached execute: it must be rejected while planning")

    monkeypatch.setattr(engine_api, "execute", tripwire)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.area}:{r.what}")
def test_documented_error(row, tmp_path, no_compiled_work):
    ns = namespace(tmp_path)
    expected = row.message.replace(TMP_PLACEHOLDER, str(tmp_path))
    # A trailing " …" stands for text that is not ours (the TOML parser's).
    pattern = re.escape(expected[:-2]) if expected.endswith(" …") else re.escape(expected) + "$"
    with pytest.raises(ValueError, match="^" + pattern):
        eval(row.call, ns)  # noqa: S307
    # The message names the argument at fault (for config files: 'section.key').
    assert row.argument in row.message


# ---------------------------------------------------------------------------
# Run-time guard: a run that passes planning but blows up. The quartic river
# confines, but particles placed far out (y = 1e3, where V' = 1e9) overshoot
# to y ~ -1e7, then ~1e19, then overflow float32 on the third step.
# ---------------------------------------------------------------------------
QUARTIC = mj.ValleyRiver(river=lambda y: 0.25 * y**4, curvature=lambda y: 10.0 + 0.0 * y,
                         name="quartic")
N_RUN, N_FAR = 96, 3


def _run_far_out(**kw):
    y0 = np.zeros(N_RUN)
    y0[-N_FAR:] = 1e3  # in the second of two chunks: the first one completes
    return mj.simulate(QUARTIC, mj.constant(0.01), n_particles=N_RUN, n_steps=12, dt=1.0,
                       init=(np.zeros((N_RUN, 1)), y0), record_every=1, bins=10,
                       bin_range=(-2.0, 2.0), block_size=16, chunk_size=48, progress=False, **kw)


def test_divergence_raises_with_step_time_lr_and_keeps_partial_result(tmp_path):
    with pytest.raises(mj.SimulationDiverged) as info:
        _run_far_out()
    e = info.value
    # Step 2 (from t = 2 to t = 3) is the first whose update is not finite.
    assert (e.step, e.time, e.lr, e.n_nonfinite) == (2, 2.0, 0.01, N_FAR)
    assert "step 2" in str(e) and "t=2" in str(e) and "lr=0.01" in str(e)
    partial = e.partial_result
    np.testing.assert_array_equal(partial.steps, [0, 1, 2])  # the records before it
    assert partial.metadata["diverged_at_step"] == 2 and partial.n_particles == N_RUN
    total = partial.counts.sum(1) + partial.underflow + partial.overflow + partial.nonfinite
    np.testing.assert_array_equal(total, N_RUN)
    np.testing.assert_array_equal(partial.nonfinite, 0)
    # y = 1e3 -> -1e7 -> 1e19: outside the bins, but finite and counted.
    np.testing.assert_array_equal(partial.overflow, [N_FAR, 0, N_FAR])
    np.testing.assert_array_equal(partial.underflow, [0, N_FAR, 0])
    loaded = mj.load_result(partial.save(tmp_path / "partial"))
    np.testing.assert_array_equal(loaded.counts, partial.counts)


def test_divergence_counted_per_record():
    # At record 2 the far particles are finite (y ~ 1e19) but their loss overflows
    # float32: the run says which sums are not finite.
    with pytest.warns(RuntimeWarning, match=r"the sums of \['loss', 'loss\^2'.* are not finite"):
        res = _run_far_out(on_nonfinite="count")
    np.testing.assert_array_equal(res.nonfinite, [0, 0, 0] + [N_FAR] * 10)
    total = res.counts.sum(1) + res.underflow + res.overflow + res.nonfinite
    np.testing.assert_array_equal(total, N_RUN)
    # Averages are over the finite particles only: the rest stay near y = 0.
    for name in ("loss", "valley_energy", "y_mean", "y_var"):
        assert np.all(np.isfinite(res.observables[name][3:])), name
    assert np.all(np.abs(res.observables["y_mean"][3:]) < 0.5)


def test_an_observable_returning_inf_is_named_not_hidden():
    with pytest.warns(RuntimeWarning, match=r"the sums of \['up', 'up\^2'\] are not finite"):
        res = mj.simulate(mj.preset("double_well"), mj.constant(0.05), n_particles=64,
                          n_steps=2, dt=1.0, init=mj.point(0.5), progress=False,
                          observables={"up": lambda x, y: jnp.where(y > 0, jnp.inf, 0.0)})
    assert np.isinf(res.observables["up"][0])
    assert np.all(np.isfinite(res.observables["y_mean"]))  # the other sums are untouched
    np.testing.assert_array_equal(res.counts.sum(1) + res.underflow + res.overflow, 64)


def write_messages() -> None:
    """Regenerate the message column of docs/errors.md from the code."""
    text = DOC.read_text()
    lines = text.splitlines()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ns = namespace(tmp)
        for row in read_rows(text):
            message = message_of(row, ns, tmp)
            if row.message.endswith(" …") and message.startswith(row.message[:-2]):
                message = row.message  # keep the documented prefix of foreign text
            cells = [row.area, row.what, _quote(row.argument), _quote(row.call), _quote(message)]
            lines[row.line_no - 1] = "| " + " | ".join(cells) + " |"
    DOC.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_messages()
    else:
        sys.exit("usage: python tests/test_errors.py --write")
