"""Rate-limited logging: one line per cause per interval, and a count of what was held back.

While the broker is down, aiokafka and faust log the same few failures thousands of times a
second. `RateLimitFilter` lets the first record of each *cause* through per interval and counts
the rest; when the interval has passed, the next record of that cause carries
"(N similar messages suppressed in the last X s)", or, if the flood stopped, a summary line
with that suffix is emitted on its own (by `install_rate_limit`'s flusher). A cause is the
logger name, the level, the record's `msg` template before %-formatting, and the exception type
if any, so "connection to node 1 failed: %s" is one cause whatever the argument.

The filter is pure (an injectable clock, no I/O) and bounded: at most `max_causes` causes are
tracked, the least recently seen forgotten first.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Cause = tuple[str, int, str, str]

DEFAULT_MAX_CAUSES = 1024


@dataclass(slots=True)
class _Window:
    started: float
    suppressed: int = 0
    last: logging.LogRecord | None = None


def cause_of(record: logging.LogRecord) -> Cause:
    template = record.msg if isinstance(record.msg, str) else f"<{type(record.msg).__name__}>"
    exc_type = record.exc_info[0] if record.exc_info else None
    return (record.name, record.levelno, template, exc_type.__name__ if exc_type else "")


def _suffix(count: int, seconds: float) -> str:
    noun = "message" if count == 1 else "messages"
    return f" ({count} similar {noun} suppressed in the last {seconds:.0f} s)"


class RateLimitFilter(logging.Filter):
    """Pass the first record of each cause per `interval_s`; count and drop the others.

    `interval_s <= 0` disables it. Safe to attach one instance to several handlers: a record is
    decided once and that decision reused, so it is neither counted twice nor split.
    """

    def __init__(
        self,
        interval_s: float,
        *,
        max_causes: int = DEFAULT_MAX_CAUSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if max_causes < 1:
            raise ValueError("max_causes must be at least 1")
        self.interval_s = interval_s
        self.max_causes = max_causes
        self.clock = clock
        self._windows: OrderedDict[Cause, _Window] = OrderedDict()
        self._lock = threading.Lock()
        self._mark = f"_sentinel_rate_limit_{id(self)}"

    @property
    def tracked(self) -> int:
        """Causes currently tracked (at most `max_causes`)."""
        return len(self._windows)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.interval_s <= 0:
            return True
        decided = record.__dict__.get(self._mark)
        if decided is not None:
            return bool(decided)
        with self._lock:
            decision = self._decide(record)
        record.__dict__[self._mark] = decision
        return decision

    def _decide(self, record: logging.LogRecord) -> bool:
        now = self.clock()
        cause = cause_of(record)
        window = self._windows.get(cause)
        if window is None:
            self._windows[cause] = _Window(now)
            while len(self._windows) > self.max_causes:
                self._windows.popitem(last=False)
            return True
        self._windows.move_to_end(cause)
        if now - window.started < self.interval_s:
            window.suppressed += 1
            window.last = record
            return False
        if window.suppressed:
            _annotate(record, _suffix(window.suppressed, now - window.started))
        self._windows[cause] = _Window(now)
        return True

    def expired(self, *, force: bool = False) -> list[logging.LogRecord]:
        """Summary records for causes whose interval has passed with records held back (with
        `force`, for every cause with records held back, as at shutdown).

        Each summary is the last suppressed record's message plus the count, without its
        traceback; the cause's interval restarts, and causes whose interval passed quietly are
        forgotten.
        """
        if self.interval_s <= 0:
            return []
        now = self.clock()
        summaries: list[logging.LogRecord] = []
        with self._lock:
            for cause, window in list(self._windows.items()):
                if now - window.started < self.interval_s and not force:
                    continue
                if window.suppressed and window.last is not None:
                    summary = logging.makeLogRecord(window.last.__dict__)
                    summary.__dict__.pop(self._mark, None)
                    _annotate(summary, _suffix(window.suppressed, now - window.started))
                    summary.exc_info = None
                    summary.exc_text = None
                    summary.stack_info = None
                    summary.created = time.time()
                    summary.__dict__[self._mark] = True
                    summaries.append(summary)
                    self._windows[cause] = _Window(now)
                else:
                    del self._windows[cause]
        return summaries


def _annotate(record: logging.LogRecord, suffix: str) -> None:
    """Append `suffix` to the record's message (formatted now, so the suffix needs no escaping)."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed %-template: keep whatever logging will make of it
        message = str(record.msg)
    record.msg = message + suffix
    record.args = ()


def emit_summaries(
    limiter: RateLimitFilter, handlers: Iterable[logging.Handler], *, force: bool = False
) -> int:
    """Hand the limiter's pending summaries to `handlers`; returns how many summaries."""
    summaries = limiter.expired(force=force)
    for summary in summaries:
        for handler in handlers:
            if summary.levelno >= handler.level:
                handler.handle(summary)
    return len(summaries)


class _Flusher(threading.Thread):
    """Emit a filter's pending summaries to its handlers about twice per interval."""

    def __init__(self, limiter: RateLimitFilter, handlers: list[logging.Handler]) -> None:
        super().__init__(name="log-rate-limit", daemon=True)
        self.limiter = limiter
        self.handlers = handlers
        self.stopped = threading.Event()

    def run(self) -> None:
        period = min(max(self.limiter.interval_s / 2, 0.5), 5.0)
        while not self.stopped.wait(period):
            emit_summaries(self.limiter, self.handlers)


@dataclass
class Installed:
    limiter: RateLimitFilter
    handlers: list[logging.Handler]
    flusher: _Flusher | None

    def uninstall(self) -> None:
        """Stop the flusher, emit what is pending, and take the filter off the handlers."""
        if self.flusher is not None:
            self.flusher.stopped.set()
        emit_summaries(self.limiter, self.handlers, force=True)
        for handler in self.handlers:
            handler.removeFilter(self.limiter)


_installed: list[Installed] = []


def install_rate_limit(
    interval_s: float,
    handlers: Iterable[logging.Handler] | None = None,
    *,
    max_causes: int = DEFAULT_MAX_CAUSES,
    flush: bool = True,
) -> Installed | None:
    """Rate-limit `handlers` (default: the root logger's current handlers) with one shared
    filter, plus a daemon thread emitting the summaries; None when `interval_s <= 0`.

    Handler-level, so every logger that propagates to them is covered (aiokafka, faust, mode
    and ours alike). Installing again replaces an earlier installation on the same handlers.
    """
    if interval_s <= 0:
        return None
    targets = list(logging.getLogger().handlers if handlers is None else handlers)
    for earlier in [i for i in _installed if set(i.handlers) & set(targets)]:
        earlier.uninstall()
        _installed.remove(earlier)
    limiter = RateLimitFilter(interval_s, max_causes=max_causes)
    for handler in targets:
        handler.addFilter(limiter)
    flusher = _Flusher(limiter, targets) if flush else None
    if flusher is not None:
        flusher.start()
    installed = Installed(limiter, targets, flusher)
    _installed.append(installed)
    return installed


def rate_limited_stream_handler(interval_s: float) -> logging.Handler:
    """A stderr handler that is rate-limited: a `()` factory for `logging.config.dictConfig`."""
    handler = logging.StreamHandler(sys.stderr)
    install_rate_limit(interval_s, [handler])
    return handler


def faust_logging_config(interval_s: float) -> dict[str, object] | None:
    """A faust/mode `logging_config` that merges into mode's own and rate-limits its console
    handler ("default", the root logger's only handler); None when rate limiting is off.

    mode configures the root logger when the worker starts (after the app is built), replacing
    any handler installed before, so the filter has to come in through this configuration.
    """
    if interval_s <= 0:
        return None
    return {
        "merge": True,
        "handlers": {
            "default": {
                "()": f"{__name__}.rate_limited_stream_handler",
                "interval_s": interval_s,
                "formatter": "colored",
            }
        },
    }
