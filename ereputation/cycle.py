"""One cycle of work — poll what is due, detect, alert, deliver — for the daemon and ``run --once``.

Kept apart from ``daemon`` so that a one-off run does not load the scheduler.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from .config import Config
from .errors import EreputationError
from .lock import acquire_lock
from .pipeline import CycleReport, run_cycle
from .store import open_database

log = logging.getLogger(__name__)


def run_once(config: Config, *, stop: threading.Event | None = None) -> CycleReport:
    """One full cycle — poll every source, detect, alert — and return.

    The daemon's ticks run the same steps, then send the digest when it is due; ``run --once``
    leaves the digest to ``ereputation digest --send`` (or cron), so polling often never
    mails a digest by surprise.
    """
    with acquire_lock(config.database):
        return cycle(config, only_due=False, stop=stop or threading.Event(), digest=False)


def cycle(
    config: Config, *, only_due: bool, stop: threading.Event, digest: bool = True
) -> CycleReport:
    """Poll (all sources, or those due), detect and alert; then the digest when ``digest``."""
    from .alerting import check_and_alert

    db = open_database(config.database)
    try:
        now = datetime.now(UTC)
        report = run_cycle(config, db, now=now, only_due=only_due, stop=stop)
        if report.polled:
            log.info("cycle: %s", report.summary())
        if stop.is_set():
            return report
        try:
            check_and_alert(config, db, datetime.now(UTC))
        except EreputationError as err:
            log.error("alerts: %s", err)
        if not digest:
            return report
        from .delivery import send_due_digests  # jinja2 and the mail stack: the daemon only

        try:
            send_due_digests(config, db, datetime.now(UTC))
        except EreputationError as err:
            log.error("digest: %s", err)
        return report
    finally:
        db.conn.close()
