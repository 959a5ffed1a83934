"""Subcommands of `mpemba-jax`, one module each (see `mpemba_jax.cli`)."""


def parse_params(items: list[str]) -> dict:
    """`["KEY=VALUE", ...]` (repeated `--param`) as preset parameters, numbers only."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--param must be KEY=VALUE; got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key] = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            raise ValueError(f"--param {key}: value must be a number; got {value!r}") from None
    return out
