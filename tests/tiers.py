"""Pytest plugin: `make test` prints its time per tier (moto, integration, browser) at the end of the run.

Loaded with ``-p tests.tiers`` (pyproject addopts). A tier's time is the sum of its tests' setup, call and
teardown durations across workers (a session fixture's start-up counts in the first test that uses it), so
the tiers add up to more than the wall time when workers run in parallel.
"""

import time

TIERS = ("moto", "integration", "browser")
_started = time.monotonic()


def tier_of(keywords) -> str:
    if "browser" in keywords:
        return "browser"
    return "integration" if "integration" in keywords else "moto"


def pytest_terminal_summary(terminalreporter):
    seconds = dict.fromkeys(TIERS, 0.0)
    tests: dict[str, set[str]] = {tier: set() for tier in TIERS}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) is None or not hasattr(report, "keywords"):
                continue
            tier = tier_of(report.keywords)
            seconds[tier] += report.duration
            tests[tier].add(report.nodeid)
    figures = ", ".join(f"{tier} {len(tests[tier])} tests {seconds[tier]:.1f} s" for tier in TIERS)
    terminalreporter.write_line(
        f"time per tier (summed over workers): {figures}; wall {time.monotonic() - _started:.1f} s"
    )
