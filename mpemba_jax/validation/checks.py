"""A stated test and its outcome: `Check`, the outcome words, and JSON output.

Every claim a verdict makes is a `Check`: what "verified" means (`claim`),
how it was decided (`test`, at significance `level`), the statistic and
p-value, and one of the outcomes below. `validate` (`verdict.py`) and
`validate_crossing` (`crossing.py`) both speak this language.
"""

from __future__ import annotations

import dataclasses
import json

from ..io.results import jsonable

__all__ = ["Check", "JsonRecord", "VERIFIED", "NOT_VERIFIED", "INCONCLUSIVE", "HEAVY_TAILED"]

VERIFIED, NOT_VERIFIED, INCONCLUSIVE = (
    "verified", "not verified", "inconclusive (below noise floor)")
HEAVY_TAILED = "inconclusive (heavy-tailed estimator)"


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
