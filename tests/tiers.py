"""Pytest plugin: `make test` prints its time per tier (moto, integration, browser) at the end of the run,
and how many cases the schema fuzzing tried (tests/contract/test_fuzz.py).

Loaded with ``-p tests.tiers`` (pyproject addopts). A tier's time is the sum of its tests' setup, call and
teardown durations across workers (a session fixture's start-up counts in the first test that uses it), so
the tiers add up to more than the wall time when workers run in parallel.

A fuzz test records what it tried as the user property ``schemathesis``, a dict: schema (which file),
operation (None for the stateful run's sequences), credential, cases, server_errors. User properties travel
in the reports, so under xdist they reach the controller.
"""

import time

TIERS = ("moto", "integration", "browser")
FUZZ_PROPERTY = "schemathesis"
_started = time.monotonic()


def tier_of(keywords) -> str:
    if "browser" in keywords:
        return "browser"
    return "integration" if "integration" in keywords else "moto"


def fuzz_summary(reports) -> str | None:
    """One line for the fuzz tests among ``reports`` (None when none ran): cases, operations,
    credentials and answers >= 500, each test counted once (its last report carries the final tally)."""
    tallies: dict[str, dict] = {}
    for report in reports:
        for name, value in getattr(report, "user_properties", ()):
            if name == FUZZ_PROPERTY:
                tallies[report.nodeid] = value
    if not tallies:
        return None
    per_operation = [tally for tally in tallies.values() if tally["operation"] is not None]
    sequences = [tally for tally in tallies.values() if tally["operation"] is None]
    operations = {tally["operation"] for tally in per_operation}
    credentials = {tally["credential"] for tally in per_operation}
    schemas = ", ".join(sorted({tally.get("schema", "?") for tally in tallies.values()}))
    cases = sum(tally["cases"] for tally in per_operation)
    line = (
        f"schemathesis ({schemas}): {cases} cases over {len(operations)} operations x "
        f"{len(credentials)} credentials"
    )
    if sequences:
        line += f", {sum(tally['cases'] for tally in sequences)} more in stateful sequences"
    server_errors = sum(tally["server_errors"] for tally in tallies.values())
    return f"{line}, {server_errors} responses >= 500"


def pytest_terminal_summary(terminalreporter):
    seconds = dict.fromkeys(TIERS, 0.0)
    tests: dict[str, set[str]] = {tier: set() for tier in TIERS}
    reports = [
        report
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) is not None and hasattr(report, "keywords")
    ]
    for report in reports:
        tier = tier_of(report.keywords)
        seconds[tier] += report.duration
        tests[tier].add(report.nodeid)
    figures = ", ".join(f"{tier} {len(tests[tier])} tests {seconds[tier]:.1f} s" for tier in TIERS)
    terminalreporter.write_line(
        f"time per tier (summed over workers): {figures}; wall {time.monotonic() - _started:.1f} s"
    )
    fuzzed = fuzz_summary(reports)
    if fuzzed:
        terminalreporter.write_line(fuzzed)
