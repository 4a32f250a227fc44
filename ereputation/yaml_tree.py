"""feeds.yaml as a tree of dicts, lists and scalars that remember their line and column.

The config loader reports every problem with its line, so the YAML reader has to keep where
each key and item starts; this module does only that, and ``config`` validates the tree.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import datetime
import functools
import math
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Tagged", "YamlProblem", "read_tree"]

# libyaml (C, through PyYAML) scans, parses and composes the node graph: a 1,000-source
# feeds.yaml costs ~15 ms there against ~350 ms in ruamel.yaml's pure-Python round-trip
# loader.  Two things are ours, because PyYAML's defaults differ from what users were promised:
# scalars mean what YAML 1.2 says (PyYAML resolves YAML 1.1, where ``no`` is false and
# ``07:30`` is the number 450), and the tree keeps where each key and item starts, read through
# ``_line``.  Scalar meanings follow ruamel.yaml's YAML 1.2 resolver, which this replaced, so a
# file means the same thing it always did.

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_BINARY = "tag:yaml.org,2002:binary"

# (tag, pattern, first characters) in the order they are tried: ruamel.yaml's YAML 1.2 table,
# which accepts a little more than the 1.2 core schema (0b binary, _ between digits).
_IMPLICIT_RULES = [
    (_BOOL, r"true|True|TRUE|false|False|FALSE", "tTfF"),
    (
        _FLOAT,
        r"""[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN)""",
        "-+0123456789.",
    ),
    (
        _INT,
        r"[-+]?0b[0-1_]+ |[-+]?0o?[0-7_]+ |[-+]?[0-9_]+ |[-+]?0x[0-9a-fA-F_]+",
        "-+0123456789",
    ),
    (_MERGE, r"<<", "<"),
    (_NULL, r"~|null|Null|NULL|", "~nN"),
    (
        _TIMESTAMP,
        r"""[0-9]{4}-[0-9]{2}-[0-9]{2}
        |[0-9]{4}-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[\ \t]+)[0-9][0-9]?:[0-9]{2}:[0-9]{2}
         (?:\.[0-9]*)?(?:[\ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9]{2})?))?""",
        "0123456789",
    ),
]
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {"": [(_NULL, re.compile(""))]}
for _tag, _pattern, _first in _IMPLICIT_RULES:
    for _char in _first:
        _IMPLICIT.setdefault(_char, []).append((_tag, re.compile(f"(?:{_pattern})$", re.X)))

_TIMESTAMP_PARTS = re.compile(
    r"""(?P<year>[0-9]{4})-(?P<month>[0-9][0-9]?)-(?P<day>[0-9][0-9]?)
    (?:(?:[Tt]|[\ \t]+)(?P<hour>[0-9][0-9]?):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})
    (?:\.(?P<fraction>[0-9]*))?
    (?:[\ \t]*(?P<tz>Z|(?P<sign>[-+])(?P<tz_hour>[0-9][0-9]?)(?::(?P<tz_minute>[0-9]{2}))?))?)?$""",
    re.X,
)

# Past this many values repeated through aliases, a file is an alias bomb ("billion laughs"),
# not a configuration: 10,000 sources each merging a 2-key anchor repeat 50,000.
_ALIAS_EXPANSION_MAX = 1_000_000


def _resolve(value: str, implicit: tuple[bool, bool]) -> str:
    """The tag of an untagged scalar: YAML 1.2 meanings when plain, text when quoted.

    ``implicit`` is the scalar event's (plain, quoted) pair.
    """
    if implicit[0]:
        for tag, pattern in _IMPLICIT.get(value[:1], ()):
            if pattern.match(value):
                return tag
    return _STR


@functools.cache
def _yaml_loader() -> Any:
    """A parser class reading with libyaml (C), or PyYAML's pure-Python stages without it.

    Only its events are read (``_TreeBuilder``).  Imported on first use: commands that never
    read feeds.yaml do not pay for PyYAML.
    """
    import yaml

    try:
        from yaml.cyaml import CParser
    except ImportError:  # a PyYAML built without libyaml: slower, same answers
        pass
    else:
        return CParser

    class PyParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):  # type: ignore[misc, unused-ignore]
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)

    return PyParser


class YamlProblem(Exception):
    """The file is not YAML we can read; ``line`` and ``column`` are 0-based, or None."""

    def __init__(self, problem: str, line: int | None = None, column: int | None = None):
        super().__init__(problem)
        self.problem = problem
        self.line = line
        self.column = column

    @classmethod
    def at(cls, mark: Any, starts: list[int] | None, problem: str) -> YamlProblem:
        return cls(problem, *_place(mark, starts))

    def describe(self) -> str:
        where = ""
        if self.line is not None and self.column is not None:
            where = f"line {self.line + 1}, column {self.column + 1}: "
        elif self.line is not None:
            where = f"line {self.line + 1}: "
        hint = ""
        if "'\\t'" in self.problem:
            hint = " (YAML indents with spaces, not tabs)"
        elif "duplicate key" in self.problem:
            hint = " (each key may appear once per mapping)"
        return f"{where}not valid YAML: {self.problem}{hint}"


def _line_starts(text: str) -> list[int] | None:
    """Where each line starts, when libyaml's line count cannot be used as it is.

    libyaml (YAML 1.1) also breaks lines at NEL, LS and PS (U+0085, U+2028, U+2029); editors
    and YAML 1.2 do not, so in a file holding one, places are counted here from the offset.
    """
    if not any(char in text for char in "\x85\u2028\u2029"):
        return None
    return [0, *(match.end() for match in re.finditer(r"\r\n|\r|\n", text))]


def _place(mark: Any, starts: list[int] | None) -> tuple[int, int]:
    """0-based (line, column) of a libyaml mark, as an editor counts them."""
    if starts is None:
        return mark.line, mark.column
    line = bisect.bisect_right(starts, mark.index) - 1
    return line, mark.index - starts[line]


class _LineCol:
    """Where a mapping or list and each of its keys or items start (0-based line, column).

    Read only through ``_line``, with the calls of ruamel.yaml's ``.lc``: ``line``,
    ``key(k)`` and ``item(i)``, each raising KeyError/IndexError for a part it did not see
    (a key brought in by a ``<<`` merge has no line of its own here).
    """

    __slots__ = ("line", "col", "data")

    def __init__(self, line: int, col: int, data: Any) -> None:
        self.line = line
        self.col = col
        self.data = data

    def key(self, key: Any) -> tuple[int, int]:
        return self.data[key]  # type: ignore[no-any-return]

    def item(self, index: int) -> tuple[int, int]:
        return self.data[index]  # type: ignore[no-any-return]


class _YamlMapping(dict[Any, Any]):
    """A YAML mapping: a dict that knows where it and each of its keys start."""

    __slots__ = ("lc",)
    lc: _LineCol


class _YamlList(list[Any]):
    """A YAML list: a list that knows where it and each of its items start."""

    __slots__ = ("lc",)
    lc: _LineCol


@dataclass(frozen=True)
class Tagged:
    """A scalar with a tag we give no meaning to (``!secret x``): refused wherever it is used."""

    tag: str
    value: str


class _Node:
    """What the tree keeps of a node while its file is read, and of an anchored one after.

    An alias stands for its anchor's node, as in YAML's graph: a problem found through an
    alias is reported where the anchored node starts, as composing the graph did.
    """

    __slots__ = ("value", "kind", "tag", "mark", "size", "done", "children")

    def __init__(self, value: Any, kind: str, tag: str | None, mark: Any, size: int) -> None:
        self.value = value
        self.kind = kind  # "scalar", "sequence" or "mapping"
        self.tag = tag  # a scalar's resolved tag (``<<`` is a merge key), None for collections
        self.mark = mark
        self.size = size  # values it holds, aliases expanded
        self.done = kind == "scalar"  # a list or mapping is done at its end event
        self.children: list[_Node] | None = None  # a list's items, kept when it may be merged


class _Open:
    """A list or mapping whose events are still arriving."""

    __slots__ = ("node", "places", "key", "merges", "keep")

    def __init__(self, node: _Node, places: Any, keep: bool) -> None:
        self.node = node
        self.places = places
        self.key: Any = _NO_KEY  # a mapping's key waiting for its value (or _MERGE_KEY)
        self.merges: list[_Node] = []  # a mapping's ``<<`` values, merged at its end
        self.keep = keep  # a list that may be merged: its items' nodes are kept


_NO_KEY = object()  # a mapping waits for a key
_MERGE_KEY = object()  # a mapping's pending key was ``<<``


class _TreeBuilder:
    """Builds the tree from libyaml's parse events, one node at a time.

    The events are read as they come, not composed into YAML's node graph first: that graph
    kept two marks and a node per scalar, ~3.7 KB per source of a 10,000-source feeds.yaml
    (37 MB at the peak, of which the daemon kept ~8 MB: docs/benchmarks.md, fourteenth
    round).  The loop keeps its own stack, so no depth reaches Python's recursion limit.

    An alias yields the very object its anchor did, so the tree costs what the text does;
    what aliases would repeat if expanded is counted, and an alias bomb or an alias to a
    collection that contains it is a ``YamlProblem``, never a hang.
    """

    def __init__(self, starts: list[int] | None, *, depth: bool) -> None:
        self.starts = starts  # see _line_starts
        self.depth = depth  # refuse nesting past _MAX_DEPTH (a libyaml that does not)
        self.anchors: dict[str, _Node] = {}
        self.repeated = 0  # values repeated through aliases so far

    def document(self, loader: Any) -> Any:
        """The single document's tree, None for an empty stream (``get_single_node``)."""
        import yaml

        loader.get_event()  # the stream's start
        if loader.check_event(yaml.StreamEndEvent):
            return None
        start = loader.get_event()
        if start.version and start.version != (1, 2):  # YAML 1.1 reads no, 0755 otherwise
            major, minor = start.version
            raise YamlProblem.at(
                start.start_mark,
                self.starts,
                f"%YAML {major}.{minor} is not supported: "
                "remove the line, feeds.yaml is read as YAML 1.2",
            )
        root = self.root(loader)
        loader.get_event()  # the document's end
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            raise yaml.composer.ComposerError(
                "expected a single document in the stream", None,
                "but found another document", event.start_mark,
            )  # fmt: skip
        return root

    def root(self, loader: Any) -> Any:
        import yaml

        scalar, alias = yaml.ScalarEvent, yaml.AliasEvent
        opening = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
        stack: list[_Open] = []
        while True:
            event = loader.get_event()
            if isinstance(event, scalar):
                node = self.scalar(event)
            elif isinstance(event, alias):
                node = self.alias(event)
            elif isinstance(event, opening):
                stack.append(self.open(event, stack))
                continue
            else:  # the end of the innermost list or mapping
                node = self.close(stack.pop())
            if not stack:
                return node.value
            self.add(stack[-1], node)

    def anchored(self, anchor: str | None, node: _Node, mark: Any) -> None:
        if anchor is None:
            return
        if anchor in self.anchors:
            import yaml

            raise yaml.composer.ComposerError(
                f"found duplicate anchor {anchor!r}; first occurrence",
                self.anchors[anchor].mark, "second occurrence", mark,
            )  # fmt: skip
        self.anchors[anchor] = node

    def scalar(self, event: Any) -> _Node:
        tag = event.tag
        if tag is None or tag == "!":
            tag = _resolve(event.value, event.implicit)
        value = event.value if tag == _STR else self.meaning(tag, event.value, event.start_mark)
        node = _Node(value, "scalar", tag, event.start_mark, 1)
        self.anchored(event.anchor, node, event.start_mark)
        return node

    def alias(self, event: Any) -> _Node:
        node = self.anchors.get(event.anchor)
        if node is None:
            import yaml

            raise yaml.composer.ComposerError(
                None, None, f"found undefined alias {event.anchor!r}", event.start_mark
            )
        if node.kind != "scalar":
            if not node.done:
                raise YamlProblem.at(
                    node.mark,
                    self.starts,
                    "an alias refers to the list or mapping that contains it (a loop)",
                )
            self.repeated += node.size
            if self.repeated > _ALIAS_EXPANSION_MAX:
                raise YamlProblem.at(
                    node.mark,
                    self.starts,
                    f"aliases repeat more than {_ALIAS_EXPANSION_MAX:,} values "
                    "(an alias bomb?): write the values out or reuse fewer",
                )
        return node

    def open(self, event: Any, stack: list[_Open]) -> _Open:
        """A tag on a list or mapping is ignored (``!!str {a: 1}`` is a mapping), as it was."""
        import yaml

        if self.depth and len(stack) >= _MAX_DEPTH:
            raise YamlProblem.at(event.start_mark, self.starts, "exceeded maximum nesting depth")
        mark, starts = event.start_mark, self.starts
        value: _YamlMapping | _YamlList
        places: Any
        if isinstance(event, yaml.MappingStartEvent):
            value, places = _YamlMapping(), {}
            node = _Node(value, "mapping", None, mark, 0)
        else:
            value, places = _YamlList(), []
            node = _Node(value, "sequence", None, mark, 0)
        value.lc = _LineCol(*_place(mark, starts), places)
        self.anchored(event.anchor, node, mark)
        merged = bool(stack) and stack[-1].key is _MERGE_KEY  # a list of mappings to merge
        return _Open(node, places, keep=merged or event.anchor is not None)

    def add(self, into: _Open, child: _Node) -> None:
        collection = into.node
        collection.size += child.size
        place = _place(child.mark, self.starts)
        if collection.kind == "sequence":
            into.places.append(place)
            collection.value.append(child.value)
            if into.keep:
                if collection.children is None:
                    collection.children = []
                collection.children.append(child)
            return
        if into.key is _NO_KEY:  # child is a key
            if child.tag == _MERGE:
                into.key = _MERGE_KEY
                return
            key = self.key(child)
            places = into.places
            if key in places:
                raise YamlProblem.at(
                    child.mark,
                    self.starts,
                    f"found duplicate key {_short(key)} (first on line {places[key][0] + 1})",
                )
            places[key] = place
            into.key = key
            return
        if into.key is _MERGE_KEY:
            into.merges.append(child)
        else:
            collection.value[into.key] = child.value
        into.key = _NO_KEY

    def close(self, done: _Open) -> _Node:
        """Own keys first, in file order, then keys merged by ``<<`` that are not already set.

        The earlier of several merged mappings wins, as YAML's merge key says.
        """
        node = done.node
        for merge in done.merges:
            for merged in self.merged(merge):
                for key, value in merged.items():
                    node.value.setdefault(key, value)
        node.size += 1  # itself
        node.done = True  # an alias to it is no longer a loop
        return node

    def merged(self, node: _Node) -> list[dict[Any, Any]]:
        if node.kind == "sequence":
            sources = node.children or []
            kind = "a mapping"
        else:
            sources = [node]
            kind = "a mapping or list of mappings"
        for source in sources:
            if source.kind != "mapping":
                raise YamlProblem.at(
                    source.mark,
                    self.starts,
                    f"expected {kind} for merging (<<), but found {source.kind}",
                )
        return [source.value for source in sources]

    def key(self, node: _Node) -> Any:
        """A key as a hashable value: a list or mapping used as a key becomes a tuple."""
        key = node.value
        if isinstance(key, list | dict | set):
            key = _frozen(key)
        try:
            hash(key)
        except TypeError:
            raise YamlProblem.at(
                node.mark, self.starts, "this key cannot be used as a key"
            ) from None
        return key

    def meaning(self, tag: str, text: str, mark: Any) -> Any:
        try:
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return _yaml_bool(text)
            if tag == _INT:
                return _yaml_int(text)
            if tag == _FLOAT:
                return _yaml_float(text)
            if tag == _TIMESTAMP:
                return _yaml_timestamp(text)
            if tag == _BINARY:
                return base64.b64decode(text.encode("ascii"), validate=False)
            if tag == _MERGE:
                return text
        except (ValueError, TypeError, UnicodeEncodeError, binascii.Error) as err:
            raise YamlProblem.at(
                mark,
                self.starts,
                f"{_short(text)} is not a valid {tag.rsplit(':', 1)[-1]} ({err}): "
                "put it in quotes if it is text",
            ) from None
        return Tagged(tag, text)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple((key, _frozen(item)) for key, item in value.items())
    if isinstance(value, list | set):
        return tuple(_frozen(item) for item in value)
    return value


def _yaml_bool(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError("write true or false")
    return text.lower() == "true"


def _yaml_int(text: str) -> int:
    """ruamel.yaml's YAML 1.2 reading: 0b, 0o and 0x prefixes, ``_`` ignored, 0755 is 755."""
    digits = text.replace("_", "")
    sign = -1 if digits[:1] == "-" else 1
    digits = digits.lstrip("+-")
    for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    return sign * int(digits)


def _yaml_float(text: str) -> float:
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text.replace("_", ""))


def _yaml_timestamp(text: str) -> datetime.date:
    parts = _TIMESTAMP_PARTS.match(text)
    if parts is None:
        raise ValueError("write YYYY-MM-DD")
    date = datetime.date(int(parts["year"]), int(parts["month"]), int(parts["day"]))
    if parts["hour"] is None:
        return date
    zone = None
    if parts["tz"] == "Z":
        zone = datetime.UTC
    elif parts["tz"]:
        offset = datetime.timedelta(
            hours=int(parts["tz_hour"]), minutes=int(parts["tz_minute"] or 0)
        )
        zone = datetime.timezone(-offset if parts["sign"] == "-" else offset)
    fraction = (parts["fraction"] or "")[:6].ljust(6, "0")
    return datetime.datetime(
        date.year,
        date.month,
        date.day,
        int(parts["hour"]),
        int(parts["minute"]),
        int(parts["second"]),
        int(fraction),
        tzinfo=zone,
    )


def read_tree(text: str) -> Any:
    """The tree of ``text``: dicts, lists and scalars with YAML 1.2 meanings, or YamlProblem."""
    import yaml

    starts = _line_starts(text)
    builder = _TreeBuilder(starts, depth=not _composer_bounds_depth())
    loader = _yaml_loader()(text)
    try:
        return builder.document(loader)
    except yaml.MarkedYAMLError as err:
        raise _from_libyaml(err, text, starts) from None
    except yaml.reader.ReaderError as err:
        raise _from_reader(err, text) from None
    finally:
        loader.dispose()


# libyaml 0.2.6 (bundled in PyYAML 6.0.4's wheels) refuses a list or mapping nested deeper
# than this while parsing.  An older libyaml composes any depth recursively in C, and deep
# enough brackets (~100,000) overflow the C stack: a segfault instead of a config error.
_MAX_DEPTH = 1000


@functools.cache
def _composer_bounds_depth() -> bool:
    """Whether the libyaml in use refuses deep nesting itself (0.2.6 and later)."""
    try:
        from yaml._yaml import get_version
    except ImportError:  # pure-Python PyYAML: _TreeBuilder bounds it
        return False
    return bool(get_version() >= (0, 2, 6))


def _from_libyaml(err: Any, text: str, starts: list[int] | None) -> YamlProblem:
    """libyaml's error, worded as users saw it from ruamel.yaml (the character, the anchor)."""
    mark = err.problem_mark or err.context_mark
    problem = (err.problem or err.context or "not valid YAML").strip()
    if mark is None:
        return YamlProblem(problem)
    line, column = _place(mark, starts)
    rest = text[mark.index : mark.index + 100].split("\n")[0]
    if problem == "found character that cannot start any token" and rest:
        problem = f"found character {rest[0]!r} that cannot start any token"
    elif problem.startswith("second occurrence") or problem.startswith("second occurence"):
        first = _place(err.context_mark, starts)[0] + 1 if err.context_mark else "?"
        problem = f"found duplicate anchor (first on line {first}): give each anchor its own name"
    problem = problem.removeprefix("did not find ")
    return YamlProblem(problem, line, column)


def _from_reader(err: Any, text: str) -> YamlProblem:
    """A character YAML forbids (a control character): say on which line."""
    offset = int(getattr(err, "position", 0) or 0)
    line = text.encode("utf-8")[:offset].count(b"\n")
    character = getattr(err, "character", None)
    code = f" #x{character:04x}" if isinstance(character, int) else ""
    reason = getattr(err, "reason", None) or "a character YAML does not allow"
    return YamlProblem(f"{reason} (found{code}): remove it", line)
