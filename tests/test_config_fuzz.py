"""Damaged copies of the example feeds.yaml: the loader answers with a Config or a ConfigError.

Users edit the example by hand, so the likely inputs are the example with lines lost, doubled,
re-indented or with values typed wrongly.  Whatever the damage, the loader must never raise
anything but ``ConfigError``, and every line number it quotes must exist in the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ereputation.config import Config, parse_config
from ereputation.errors import ConfigError

EXAMPLE = (Path(__file__).resolve().parents[1] / "feeds.yaml").read_text(encoding="utf-8")
LINES = EXAMPLE.splitlines()
PLACE = re.compile(
    r"^(line \d+[,:]|.+? \(line \d+\): |(brands|sources): missing|the file is empty)"
)

junk = st.sampled_from(
    ["", "  ", "\t", ":", "- ", "{", "]", "*a", "&a", "!!str", "'", '"', "#", "%YAML 1.1", "?",
     "null", "true", "-1", "1e400", "~", "ftp://x", "{query}", "password: x", "25:00", "é", "ا"]
)  # fmt: skip


@st.composite
def damaged_examples(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["drop", "double", "indent", "dedent", "junk", "cut"]))
        line = lines[index]
        if action == "drop":
            del lines[index]
        elif action == "double":
            lines.insert(index, line)
        elif action == "indent":
            lines[index] = "  " + line
        elif action == "dedent":
            lines[index] = line.removeprefix("  ")
        elif action == "junk":
            at = draw(st.integers(min_value=0, max_value=len(line)))
            lines[index] = line[:at] + draw(junk) + line[at:]
        else:
            lines[index] = line[: draw(st.integers(min_value=0, max_value=len(line)))]
        if not lines:
            break
    return "\n".join(lines) + "\n"


def check_problems(text: str, err: ConfigError) -> None:
    count = text.count("\n") + 1
    assert err.problems
    for problem in err.problems:
        assert PLACE.match(problem), problem
        for number in re.findall(r"\bline (\d+)", problem):
            assert 1 <= int(number) <= count, problem


@settings(max_examples=150, deadline=None)
@given(damaged_examples())
def test_damaged_example_gives_a_config_or_a_config_error_with_real_lines(text: str) -> None:
    try:
        config = parse_config(text, Path("/etc/ereputation/feeds.yaml"))
    except ConfigError as err:
        check_problems(text, err)
    else:
        assert isinstance(config, Config)
        assert config.brands and config.sources


def test_the_undamaged_example_loads() -> None:
    config = parse_config(EXAMPLE, Path("/etc/ereputation/feeds.yaml"))
    assert config.database == Path("/etc/ereputation/ereputation.db")
