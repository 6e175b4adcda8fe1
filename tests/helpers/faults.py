"""A fault injected into the risk core, as a bug in it would behave: for an event whose id starts
with `FAULT_PREFIX` the real core applies the event (changing the state half-way, as far as the
caller can tell) and then raises. Run as a module, it is `sentinel worker risk` with the fault."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

FAULT_PREFIX = "fault-"
FAULT_LINE = "ZeroDivisionError: injected fault"
"""The traceback's last line the dead letter must carry."""

Apply = Callable[..., Any]


def half_applied_then_raise(real: Apply) -> Apply:
    def apply(state: Any, event: Any, catalog: Any, policy: Any) -> Any:
        outputs = real(state, event, catalog, policy)
        if event.event_id.startswith(FAULT_PREFIX):
            raise ZeroDivisionError("injected fault")
        return outputs

    return apply


def main() -> int:
    from mineral_sentinel import cli
    from mineral_sentinel.risk_service import processor

    processor.apply_event = half_applied_then_raise(processor.apply_event)  # type: ignore[attr-defined]
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
