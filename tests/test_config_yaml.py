"""Reading feeds.yaml's YAML: YAML 1.2 meanings, editor line numbers, anchors, and refusals.

The tree is read with libyaml; these tests pin what users were promised when the reader was
ruamel.yaml: a scalar means what YAML 1.2 says, every problem names the line an editor shows,
merge keys work, and a hostile file (alias loop, alias bomb) ends as one ``ConfigError``.
"""

from __future__ import annotations

import datetime
import math
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ereputation import config as module
from ereputation import yaml_tree
from ereputation.config import parse_config
from ereputation.errors import ConfigError

PATH = Path("/etc/ereputation/feeds.yaml")
MINIMAL = "brands: [{name: Atlas}]\nsources: [{url: 'https://a.example.ma/rss'}]\n"


def tree(text: str) -> Any:
    return module._parse_yaml(textwrap.dedent(text), PATH)


def value_of(scalar: str) -> Any:
    return tree(f"a: {scalar}\n")["a"]


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), PATH)
    return caught.value.problems


@pytest.mark.parametrize(
    ("scalar", "expected"),
    [
        # YAML 1.1 (PyYAML's default) would make these booleans, a sexagesimal or an octal
        ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"),
        ("07:30", "07:30"), ("1:20", "1:20"), ("0755", 755), ("08", 8),
        ("true", True), ("False", False), ("TRUE", True),
        ("~", None), ("null", None), ("Null", None), ("", None), ("'null'", "null"),
        ("12", 12), ("-3", -3), ("+12", 12), ("0o17", 15), ("0x1F", 31), ("0b101", 5),
        ("1_000", 1000), ("0o8", "0o8"), ("1e", "1e"),
        ("1.5", 1.5), ("1.", 1.0), (".5", 0.5), ("1e3", 1000.0), ("-.inf", -math.inf),
        ("'12'", "12"), ('"true"', "true"), ("!!str 12", "12"), ("!!int '12'", 12),
        ("2026-01-01", datetime.date(2026, 1, 1)),
        ("2026-01-01T10:00:00Z", datetime.datetime(2026, 1, 1, 10, tzinfo=datetime.UTC)),
        ("2026-1-1 10:00:00", datetime.datetime(2026, 1, 1, 10)),
        ("2026-01-01 10:00", "2026-01-01 10:00"),
    ],
)  # fmt: skip
def test_scalars_mean_what_yaml_1_2_says(scalar: str, expected: Any) -> None:
    found = value_of(scalar)
    assert found == expected and type(found) is type(expected)


def test_not_a_number_stays_a_float() -> None:
    assert math.isnan(value_of(".nan"))


def test_yaml_1_1_words_reach_the_validator_as_text() -> None:
    config = parse_config(MINIMAL + "digest: {at: 07:30}\n", PATH)
    assert config.digest.at == "07:30"
    found = problems_of(MINIMAL + "email: {starttls: no}\n")
    assert found == ["email.starttls (line 3): must be true or false, not 'no'"]


def test_lines_of_keys_and_items_are_those_an_editor_shows() -> None:
    data = tree(
        """\
        # a comment
        brands:
          - name: Atlas

          - {name: Sahara}
        """
    )
    brands = data["brands"]
    assert module._line(data, key="brands") == 2
    assert [module._line(brands, index=i) for i in range(2)] == [3, 5]
    assert module._line(brands[1], key="name") == 5
    assert module._line(brands, index=7) is None and module._line(data, key="x") is None


def test_a_line_separator_inside_text_does_not_shift_the_line_numbers() -> None:
    # libyaml (YAML 1.1) breaks lines at NEL and LS; an editor, and YAML 1.2, do not
    found = problems_of("x-note: 'a\x85b \u2028c'\n" + MINIMAL + "poll_every: soon\n")
    assert found == [
        "poll_every (line 4): 'soon' is not a duration: write e.g. 90s, 15m, 6h, 1d or 1h30m"
    ]


def test_merge_keys_own_keys_win_then_the_first_merged_mapping() -> None:
    config = parse_config(
        textwrap.dedent(
            """\
            x-slow: &slow {every: 6h, full_text: never, max_articles: 5}
            x-page: &page {kind: page, every: 1h, selector: "h2 a"}
            brands: [{name: Atlas}]
            sources:
              - url: https://a.example.ma/
                <<: [*page, *slow]
                max_articles: 9
            """
        ),
        PATH,
    )
    (source,) = config.sources
    assert (source.kind, source.every, source.full_text) == ("page", 3600, "never")
    assert (source.selector, source.max_articles) == ("h2 a", 9)


def test_a_bad_merged_value_is_reported_at_the_item_that_merges_it() -> None:
    found = problems_of(
        """\
        x-bad: &bad {every: 10s}
        brands: [{name: Atlas}]
        sources:
          - name: A
            url: https://a.example.ma/rss
            <<: *bad
        """
    )
    assert found == ["sources[0].every (line 4): must be between 1m and 7d, not 10s"]


def test_an_alias_shares_its_anchor_value() -> None:
    data = tree("a: &x [1, 2]\nb: *x\n")
    assert data["b"] == [1, 2] and data["b"] is data["a"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x-a: &a [*a]\n", "line 3, column 6: not valid YAML: an alias refers to the list"),
        ("x-a: &a {b: *a}\n", "line 3, column 6: not valid YAML: an alias refers to the list"),
        ("x-a: &a {<<: *a}\n", "line 3, column 6: not valid YAML: an alias refers to the list"),
        ("x-a: {<<: 3}\n", "line 3, column 11: not valid YAML: expected a mapping or list of"),
        ("x-a: {b: 1, b: 2}\n", "line 3, column 13: not valid YAML: found duplicate key 'b' "
         "(first on line 3) (each key may appear once per mapping)"),
        ("x-a: &a 1\nx-b: &a 2\n", "line 4, column 6: not valid YAML: found duplicate anchor"),
        ("x-a: *nowhere\n", "line 3, column 6: not valid YAML: found undefined alias 'nowhere'"),
        ("x-a: 2026-13-45\n", "line 3, column 6: not valid YAML: '2026-13-45' is not a valid"),
        ("x-a: !!int zz\n", "line 3, column 6: not valid YAML: 'zz' is not a valid int"),
        ("x-a: b\x07\n", "line 3: not valid YAML: control characters are not allowed"),
        ("x-a: " + "[" * 2000 + "]" * 2000 + "\n", "line 3, column 1005: not valid YAML: exceeded"),
    ],
)  # fmt: skip
def test_unreadable_yaml_is_one_problem_with_its_place(text: str, expected: str) -> None:
    (problem,) = problems_of(MINIMAL + text)
    assert problem.startswith(expected), problem


@pytest.mark.parametrize("depth", [2000, 100_000])
def test_deep_nesting_is_refused_even_by_a_libyaml_without_the_bound(
    depth: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libyaml before 0.2.6 composed any depth recursively in C: 100,000 brackets segfaulted.
    The tree is built from the parse events (iterative in libyaml), with the same bound."""
    nested = "x-a: " + "{a: [" * (depth // 2) + "]}" * (depth // 2) + "\n"
    if yaml_tree._composer_bounds_depth():
        (libyaml_says,) = problems_of(MINIMAL + nested)
    else:
        libyaml_says = "line 3, column 2505: not valid YAML: exceeded maximum nesting depth"
    monkeypatch.setattr(yaml_tree, "_composer_bounds_depth", lambda: False)
    (problem,) = problems_of(MINIMAL + nested)
    assert problem == libyaml_says


def test_the_first_problem_in_the_file_is_the_one_reported() -> None:
    """The tree is built while the file is read: a duplicate key on line 3 is reported before
    a syntax error further down (the whole file was parsed first, which named the later one)."""
    text = MINIMAL + "x-a: {b: 1, b: 2}\nx-b: [unclosed\n"
    (problem,) = problems_of(text)
    assert problem.startswith("line 3, column 13: not valid YAML: found duplicate key 'b'")


def test_nesting_up_to_the_bound_is_read_without_recursion() -> None:
    """The tree's builder keeps its own stack: 999 levels (Python's recursion limit is
    1,000) are read like 2, where building the tree recursively said "nested too deeply"."""
    for depth in (2, 999):
        config = parse_config(MINIMAL + "x-a: " + "[" * depth + "]" * depth + "\n", PATH)
        assert config.brands[0].name == "Atlas"
    data = tree("a: " + "[" * 999 + "1" + "]" * 999 + "\n")["a"]
    for _ in range(998):
        (data,) = data
    assert data == [1]


def test_an_alias_bomb_is_refused_not_expanded() -> None:
    laughs = "x-0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"x-{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]\n" for level in range(1, 10)
    )
    for tail in ("", "brands: *l9\n", "? *l9\n: 1\n"):
        (problem,) = problems_of(laughs + tail)
        assert "aliases repeat more than 1,000,000 values" in problem


def test_reused_anchors_within_the_limit_are_fine() -> None:
    sources = "".join(
        f"  - {{<<: *hourly, url: 'https://s{i}.example.ma/rss'}}\n" for i in range(300)
    )
    config = parse_config(
        "x-hourly: &hourly {every: 1h, full_text: never}\nbrands: [{name: A}]\nsources:\n"
        + sources,
        PATH,
    )
    assert len(config.sources) == 300 and {s.every for s in config.sources} == {3600}


def test_yaml_1_1_documents_are_refused_rather_than_read_differently() -> None:
    (problem,) = problems_of("%YAML 1.1\n---\n" + MINIMAL)
    assert problem.startswith("line 1, column 1: not valid YAML: %YAML 1.1 is not supported")
    assert parse_config("%YAML 1.2\n---\n" + MINIMAL, PATH).brands[0].name == "Atlas"


def test_a_value_with_an_unknown_tag_is_refused_where_it_is_used() -> None:
    found = problems_of("brands: [{name: !secret Atlas}]\nsources: [{url: 'https://a.ma/'}]\n")
    assert found == ["brands[0].name (line 1): must be text, not a value tagged !secret"]


def test_a_tag_on_a_mapping_leaves_it_a_mapping() -> None:
    assert parse_config("!!str\n" + MINIMAL, PATH).brands[0].name == "Atlas"


def test_without_libyaml_the_pure_python_stages_give_the_same_tree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    text = (Path(__file__).resolve().parents[1] / "feeds.yaml").read_text(encoding="utf-8")
    text += "x-extra: &e {a: [0755, 07:30, yes, 2026-01-01, ~]}\nx-more: {<<: *e, b: 1}\n"
    with_libyaml = yaml_tree.read_tree(text)
    real_import = builtins.__import__

    def no_cyaml(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "yaml.cyaml":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    yaml_tree._yaml_loader.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_cyaml)
    try:
        assert "CParser" not in str(yaml_tree._yaml_loader().__mro__)
        pure = yaml_tree.read_tree(text)
    finally:
        monkeypatch.undo()
        yaml_tree._yaml_loader.cache_clear()
    assert pure == with_libyaml
    assert pure.lc.data == with_libyaml.lc.data
    assert pure["sources"].lc.data == with_libyaml["sources"].lc.data
