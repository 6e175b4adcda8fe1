"""The log rate limiter: one line per cause per interval, a count of the rest, bounded memory."""

from __future__ import annotations

import logging
import sys

import pytest

from mineral_sentinel import logkit
from mineral_sentinel.logkit import (
    RateLimitFilter,
    faust_logging_config,
    install_rate_limit,
    rate_limited_stream_handler,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


CONNECT = "Unable connect to node %s: %s"


def record(
    msg: str = CONNECT,
    *args: object,
    name: str = "aiokafka",
    level: int = logging.ERROR,
    exc: BaseException | None = None,
) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc is not None else None
    if msg == CONNECT and not args:
        args = (1, "refused")
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def passed(limiter: RateLimitFilter, rec: logging.LogRecord) -> bool:
    return bool(limiter.filter(rec))


def test_a_thousand_identical_errors_in_a_second_give_one_line_and_one_summary() -> None:
    clock = FakeClock()
    limiter = RateLimitFilter(10.0, clock=clock)
    out: list[str] = []
    for _ in range(1000):
        rec = record()
        if passed(limiter, rec):
            out.append(rec.getMessage())
        clock.advance(0.001)
    assert out == ["Unable connect to node 1: refused"]
    assert limiter.expired() == []  # the interval has not passed yet

    clock.advance(10.0)
    summaries = [s.getMessage() for s in limiter.expired()]
    assert summaries == [
        "Unable connect to node 1: refused (999 similar messages suppressed in the last 11 s)"
    ]
    assert limiter.expired() == []  # summarised once


def test_the_next_record_after_the_interval_carries_the_count() -> None:
    clock = FakeClock()
    limiter = RateLimitFilter(10.0, clock=clock)
    assert passed(limiter, record())
    for port in range(5):
        assert not passed(limiter, record("Unable connect to node %s: %s", port, "refused"))
    clock.advance(10.0)
    late = record("Unable connect to node %s: %s", 7, "refused")
    assert passed(limiter, late)
    assert late.getMessage() == (
        "Unable connect to node 7: refused (5 similar messages suppressed in the last 10 s)"
    )
    assert limiter.expired() == []  # already reported on the record itself


def test_distinct_causes_pass_through() -> None:
    limiter = RateLimitFilter(10.0, clock=FakeClock())
    causes = [
        record("Unable connect to node %s: %s"),
        record("Unable to update metadata from %s", [1]),
        record("Unable connect to node %s: %s", name="faust.transport"),
        record("Unable connect to node %s: %s", level=logging.WARNING),
        record("Unable connect to node %s: %s", exc=ConnectionError("x")),
        record("Unable connect to node %s: %s", exc=TimeoutError("x")),
    ]
    assert all(passed(limiter, rec) for rec in causes)
    assert not any(passed(limiter, record()) for _ in range(3))


def test_interval_rollover_lets_one_line_per_interval_through() -> None:
    clock = FakeClock()
    limiter = RateLimitFilter(10.0, clock=clock)
    lines = []
    for _ in range(240):  # 30 s at eight records a second
        rec = record()
        if passed(limiter, rec):
            lines.append(rec.getMessage())
        clock.advance(0.125)
    assert len(lines) == 3
    assert lines[0] == "Unable connect to node 1: refused"
    assert all("(79 similar messages suppressed in the last 10 s)" in line for line in lines[1:])


def test_a_quiet_cause_is_forgotten_and_then_passes_at_once() -> None:
    clock = FakeClock()
    limiter = RateLimitFilter(10.0, clock=clock)
    assert passed(limiter, record())
    clock.advance(11.0)
    assert limiter.expired() == []
    assert limiter.tracked == 0
    assert passed(limiter, record())


def test_the_number_of_tracked_causes_is_capped_least_recent_first() -> None:
    clock = FakeClock()
    limiter = RateLimitFilter(10.0, max_causes=3, clock=clock)
    for n in range(3):
        assert passed(limiter, record(f"cause {n}"))
    assert not passed(limiter, record("cause 0"))  # cause 0 is now the most recent
    assert passed(limiter, record("cause 3"))  # evicts cause 1
    assert limiter.tracked == 3
    assert passed(limiter, record("cause 1"))  # forgotten, so new again (evicts cause 2)
    assert not passed(limiter, record("cause 0"))
    for n in range(1000):
        limiter.filter(record(f"flood {n}"))
    assert limiter.tracked == 3


def test_zero_interval_disables_it() -> None:
    limiter = RateLimitFilter(0.0, clock=FakeClock())
    assert all(passed(limiter, record()) for _ in range(100))
    assert install_rate_limit(0.0, []) is None
    assert faust_logging_config(0.0) is None


def test_one_filter_on_two_handlers_decides_each_record_once() -> None:
    first, second = ListHandler(), ListHandler()
    installed = install_rate_limit(10.0, [first, second], flush=False)
    assert installed is not None
    logger = logging.getLogger("test_logkit.two_handlers")
    logger.propagate = False
    logger.addHandler(first)
    logger.addHandler(second)
    try:
        for _ in range(50):
            logger.error("same %s", "thing")
    finally:
        logger.removeHandler(first)
        logger.removeHandler(second)
        installed.uninstall()
    assert (
        first.lines
        == second.lines
        == [
            "same thing",
            "same thing (49 similar messages suppressed in the last 0 s)",  # reported at uninstall
        ]
    )


def test_installed_flusher_emits_summaries_to_its_handlers() -> None:
    clock = FakeClock()
    sink = ListHandler()
    installed = install_rate_limit(10.0, [sink], flush=False)
    assert installed is not None
    installed.limiter.clock = clock
    logger = logging.getLogger("test_logkit.flusher")
    logger.propagate = False
    logger.addHandler(sink)
    try:
        for _ in range(20):
            logger.warning("broker %s down", "b1")
        clock.advance(12.0)
        installed.uninstall()  # flushes what is pending
    finally:
        logger.removeHandler(sink)
    assert sink.lines == [
        "broker b1 down",
        "broker b1 down (19 similar messages suppressed in the last 12 s)",
    ]


def test_summary_drops_the_traceback_and_survives_mode_formatting() -> None:
    clock = FakeClock()
    limiter = RateLimitFilter(5.0, clock=clock)
    try:
        raise ConnectionError("refused")
    except ConnectionError:
        info = sys.exc_info()
    for _ in range(3):
        rec = logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, "failed %d%%", (5,), info)
        limiter.filter(rec)
    clock.advance(5.0)
    (summary,) = limiter.expired()
    assert summary.exc_info is None
    assert summary.getMessage() == "failed 5% (2 similar messages suppressed in the last 5 s)"
    assert summary.args == ()


def test_faust_logging_config_merges_a_rate_limited_default_handler() -> None:
    config = faust_logging_config(7.5)
    assert config is not None
    assert config["merge"] is True
    handler_config = config["handlers"]["default"]  # type: ignore[index]
    assert handler_config["formatter"] == "colored"
    handler = rate_limited_stream_handler(7.5)
    try:
        (limiter,) = handler.filters
        assert isinstance(limiter, RateLimitFilter)
        assert limiter.interval_s == 7.5
    finally:
        for installed in [i for i in logkit._installed if handler in i.handlers]:
            installed.uninstall()
            logkit._installed.remove(installed)


@pytest.mark.parametrize("bad", [0, -1])
def test_max_causes_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError):
        RateLimitFilter(1.0, max_causes=bad)


def test_uninstall_reports_what_is_held_back_even_within_the_interval() -> None:
    clock = FakeClock()
    sink = ListHandler()
    installed = install_rate_limit(10.0, [sink], flush=False)
    assert installed is not None
    installed.limiter.clock = clock
    for _ in range(4):
        rec = record("again")
        if installed.limiter.filter(rec):
            sink.handle(rec)
    clock.advance(2.0)
    installed.uninstall()
    assert sink.lines == ["again", "again (3 similar messages suppressed in the last 2 s)"]
