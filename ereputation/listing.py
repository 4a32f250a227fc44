"""Rows to the terminal: an aligned table, CSV or JSON lines."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

import click
from tabulate import tabulate

TABLE_CELL = 60  # longer cells are cut in tables (csv and json keep everything)


def print_rows(rows: Sequence[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    if fmt == "csv":
        if rows:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        return
    if not rows:
        click.echo("(nothing)")
        return
    cells = [[_cell(value) for value in row.values()] for row in rows]
    click.echo(tabulate(cells, headers=list(rows[0]), tablefmt="simple"))


def _cell(value: Any) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= TABLE_CELL else text[: TABLE_CELL - 1] + "…"
