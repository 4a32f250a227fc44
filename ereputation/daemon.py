"""The long-running service: APScheduler drives polls, alerts and the daily digest.

Jobs run one at a time on a single worker thread (the database has one writer), except the
systemd watchdog ping, which has its own thread so that a long cycle is not mistaken for a
hang as long as the scheduler itself is alive.

Every tick polls the sources that are due (each has its own ``next_poll_at``: ``every`` with
jitter, or a backoff), then runs the signal checks and the delivery of anything due: the
digest of the day once its hour has passed, a digest missed while the service was down,
mail that failed before.  Delivery is idempotent (the ``digests`` and ``alerts`` tables say
what was sent), so running it often costs nothing and survives restarts.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from . import sdnotify
from .config import Config, load_config
from .cycle import cycle
from .errors import EreputationError
from .lock import acquire_lock

log = logging.getLogger(__name__)

MAX_TICK = 60  # seconds between two looks at what is due


class Daemon:
    """``ereputation run``: schedules the jobs until SIGTERM; SIGHUP reloads feeds.yaml."""

    def __init__(self, config_path: Path, config: Config) -> None:
        self.config_path = config_path
        self.config = config
        self.stop = threading.Event()
        self._stopper: threading.Thread | None = None
        self.scheduler = BlockingScheduler(
            timezone=config.timezone,
            executors={
                "default": ThreadPoolExecutor(max_workers=1),
                "ping": ThreadPoolExecutor(max_workers=1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )

    def run(self) -> None:
        lock = acquire_lock(self.config.database)
        try:
            self._schedule()
            signal.signal(signal.SIGTERM, self._on_stop)
            signal.signal(signal.SIGINT, self._on_stop)
            signal.signal(signal.SIGHUP, self._on_reload)
            self.scheduler.add_listener(self._on_started, EVENT_SCHEDULER_STARTED)
            log.info(
                "ereputation running: %d sources, %d brands, database %s",
                len(self.config.sources), len(self.config.brands), self.config.database,
            )  # fmt: skip
            self.scheduler.start()
            if self._stopper is not None:
                self._stopper.join()  # the job in hand has finished: now the lock may go
        finally:
            sdnotify.stopping()
            lock.release()
        log.info("ereputation stopped")

    def _schedule(self) -> None:
        config = self.config
        tick = max(1, min([MAX_TICK, config.poll_every, *(s.every for s in config.sources)]))
        self.scheduler.add_job(
            self._tick, "interval", seconds=tick, id="tick", replace_existing=True,
            next_run_time=datetime.now(UTC),
        )  # fmt: skip
        hour, minute = (int(part) for part in config.digest.at.split(":"))
        self.scheduler.add_job(
            self._tick, CronTrigger(hour=hour, minute=minute, timezone=config.timezone),
            id="digest", replace_existing=True,
        )  # fmt: skip
        interval = sdnotify.watchdog_interval()
        if interval:
            self.scheduler.add_job(
                sdnotify.watchdog, "interval", seconds=max(1.0, interval / 2), id="watchdog",
                executor="ping", replace_existing=True,
            )  # fmt: skip

    def _tick(self) -> None:
        if self.stop.is_set():
            return
        try:
            cycle(self.config, only_due=True, stop=self.stop)
        except EreputationError as err:
            log.error("%s%s", err, f" ({err.hint})" if err.hint else "")
        except Exception:  # the daemon outlives any single cycle's bug
            log.exception("cycle failed")

    def _on_started(self, _event: object) -> None:
        sdnotify.ready()
        sdnotify.status(f"watching {len(self.config.sources)} sources")

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the job in hand", signal.Signals(signum).name)
        self.stop.set()
        sdnotify.stopping()
        # shutdown(wait=True) from the signal handler would block the main loop it interrupts;
        # a helper thread waits for the running job while the main loop winds down.
        if self._stopper is None:
            self._stopper = threading.Thread(
                target=self.scheduler.shutdown, kwargs={"wait": True}, name="stopper"
            )
            self._stopper.start()

    def _on_reload(self, _signum: int, _frame: FrameType | None) -> None:
        sdnotify.reloading()
        try:
            config = load_config(self.config_path)
        except EreputationError as err:
            log.error("reload refused, keeping the running configuration: %s", err)
        else:
            if config.database != self.config.database:
                log.error("reload: `database:` cannot change while running; restart instead")
            else:
                self.config = config
                self._schedule()
                log.info(
                    "configuration reloaded: %d sources, %d brands",
                    len(config.sources), len(config.brands),
                )  # fmt: skip
        sdnotify.ready()
