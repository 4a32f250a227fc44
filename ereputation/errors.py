"""One exception family, so the CLI can print ``Error: …`` plus a hint and exit non-zero.

Every error carries a ``hint``: what the user should do about it.  Code that catches
``EreputationError`` never needs to know which stage raised it.
"""

from __future__ import annotations


class EreputationError(Exception):
    """Base class: ``str(err)`` is the message, ``err.hint`` tells the user what to fix."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class ConfigError(EreputationError):
    """The configuration file is unusable; ``problems`` lists every problem found, with its place.

    Each problem reads like ``sources[2].url (line 14): must be http or https``.
    """

    exit_code = 2

    def __init__(self, problems: list[str], path: str = "") -> None:
        self.problems = list(problems)
        self.path = path
        where = f" in {path}" if path else ""
        count = len(self.problems)
        summary = f"{count} problem{'s' if count != 1 else ''}{where}:\n  " + "\n  ".join(
            self.problems
        )
        super().__init__(summary, hint="fix the places listed, then run `ereputation check`")


class FetchError(EreputationError):
    """A source could not be fetched; the message is short enough for one log line."""


class StoreError(EreputationError):
    """The database cannot be opened or written (locked too long, read-only, disk full, …)."""


class MailError(EreputationError):
    """A message could not be delivered (SMTP refused, unreachable, or the outbox unwritable)."""
