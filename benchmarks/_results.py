"""Shared by the benchmarks: replace one marked section of benchmarks/RESULTS.md."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"

_HEADER = """# Benchmark results

Each section is written by the benchmark it names (between its markers), with the
machine and the command that produced it. Rerun a benchmark to refresh its section.
"""


def add_results_argument(parser) -> None:
    """The ``--results`` option every benchmark takes: the Markdown file it updates."""
    parser.add_argument("--results", default=str(RESULTS), help="RESULTS.md to update ('' to skip)")


def update_section(name: str, text: str, path: str | Path = RESULTS) -> None:
    """Put ``text`` (which starts/ends with the ``<!-- name:start/end -->`` markers) in ``path``."""
    path = Path(path)
    old = path.read_text() if path.exists() else _HEADER
    pattern = re.compile(
        rf"<!-- {re.escape(name)}:start -->.*?<!-- {re.escape(name)}:end -->", re.S
    )
    if pattern.search(old):
        new = pattern.sub(lambda _: text, old)
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new)
    tmp.replace(path)


def report_section(name: str, lines: list[str], path: str | Path = RESULTS) -> str:
    """Print ``lines`` between the section's markers; unless ``path`` is empty, update it too."""
    text = "\n".join([f"<!-- {name}:start -->", *lines, f"<!-- {name}:end -->"])
    print(text)
    if path:
        update_section(name, text, path)
    return text
