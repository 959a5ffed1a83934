"""A stated test and its outcome: `Check`, the outcome words, and JSON output.

Every claim a verdict makes is a `Check`: what "verified" means (`claim`),
how it was decided (`test`, at significance `level`), the statistic and
p-value, and one of the outcomes below. `validate` (`verdict.py`) and
`validate_crossing` (`crossing.py`) both speak this language.

Outcomes: "verified" (a test that could have failed on these data did not);
"not verified" (the data contradict the claim, or a resolved departure is
named in brackets, e.g. "not verified (EM bias resolved: ...)"); and
"inconclusive (...)" with the reason the data cannot decide: below the noise
floor, a window too short, an interval straddling an equivalence margin, a
heavy-tailed estimator, or nothing predicted to test. `outcome_kind` maps
every outcome to one of the three words.
"""

from __future__ import annotations

import dataclasses
import json

from ..io.results import jsonable

__all__ = ["Check", "JsonRecord", "VERIFIED", "NOT_VERIFIED", "INCONCLUSIVE", "HEAVY_TAILED",
           "WINDOW_TOO_SHORT", "STRADDLES_MARGIN", "NOTHING_PREDICTED", "em_bias_resolved",
           "outcome_kind", "combine_outcomes"]

VERIFIED, NOT_VERIFIED, INCONCLUSIVE = (
    "verified", "not verified", "inconclusive (below noise floor)")
HEAVY_TAILED = "inconclusive (heavy-tailed estimator)"
WINDOW_TOO_SHORT = "inconclusive (window too short)"
STRADDLES_MARGIN = "inconclusive (interval straddles the margin)"
NOTHING_PREDICTED = "inconclusive (no crossing predicted)"


def em_bias_resolved(predicted: str, measured: str) -> str:
    """The outcome of a check that resolved the Euler–Maruyama bias the theory leaves out."""
    return f"{NOT_VERIFIED} (EM bias resolved: predicted {predicted}, measured {measured})"


def outcome_kind(outcome: str) -> str:
    """`"verified"`, `"not verified"` or `"inconclusive"` for any outcome string."""
    for kind in (VERIFIED, NOT_VERIFIED, "inconclusive"):
        if outcome == kind or outcome.startswith(kind + " "):
            return kind
    raise ValueError(f"outcome must be one of the outcome words; got {outcome!r}")


def combine_outcomes(outcomes: list[str]) -> str:
    """A conjunction of claims: "not verified" if any part is not verified, else the
    first inconclusive part, else "verified"."""
    kinds = [outcome_kind(o) for o in outcomes]
    if NOT_VERIFIED in kinds:
        return NOT_VERIFIED
    for o, k in zip(outcomes, kinds):
        if k == "inconclusive":
            return o
    return VERIFIED


@dataclasses.dataclass
class Check:
    """One stated test: `claim` is what "verified" means, `test` how it was decided."""

    claim: str
    test: str
    level: float
    statistic: float | None
    p_value: float | None
    outcome: str
    detail: str = ""


class JsonRecord:
    """`to_dict` / `to_json` for the verdict dataclasses (non-finite numbers -> null)."""

    def to_dict(self) -> dict:
        return jsonable(dataclasses.asdict(self))

    def to_json(self, path=None, indent: int = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text
