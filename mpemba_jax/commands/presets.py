"""`mpemba-jax presets`: list the preset landscapes and their parameters."""

from __future__ import annotations

from ..presets import list_presets


def add_parser(sub):
    p = sub.add_parser("presets", help="list preset landscapes and their parameters",
                       description="List every preset landscape with its parameters and defaults.")
    p.set_defaults(func=run)


def run(args) -> int:
    for name, info in list_presets().items():
        params = ", ".join(f"{k}={v!r}" for k, v in info["defaults"].items())
        print(f"{name}({params})\n    {info['description']}")
    return 0
