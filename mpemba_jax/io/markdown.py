"""Generated sections of Markdown files: tables written by scripts from committed JSON.

A generated section sits between two marker comments,

    <!-- BEGIN generated: NAME (SCRIPT) -->
    ...
    <!-- END generated: NAME -->

and `replace_section` rewrites what is between them, leaving the rest of the
text as it is; `table` formats rows as a Markdown table.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["replace_section", "table"]


def replace_section(text: str, name: str, body: str) -> str:
    """`text` with `body` between the `NAME` markers.

    Raises `ValueError` if the markers are missing (add
    `<!-- BEGIN generated: NAME (script) -->` and `<!-- END generated: NAME -->`).
    """
    pattern = re.compile(rf"(<!-- BEGIN generated: {re.escape(name)} [^>]*-->\n).*?"
                         rf"(<!-- END generated: {re.escape(name)} -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"no '<!-- BEGIN generated: {name} ... -->' ... "
                         f"'<!-- END generated: {name} -->' markers")
    return pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text,
                       count=1)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table of `rows` (cells formatted with `str`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
