"""Fixtures of the core tests: what the configured log handlers write (``logged``)."""

import io
import json
import logging
from dataclasses import dataclass

import pytest


@dataclass
class Captured:
    console: io.StringIO
    metrics: io.StringIO

    def text(self) -> str:
        return self.console.getvalue() + self.metrics.getvalue()

    def lines(self, logger: str | None = None) -> list[dict]:
        parsed = [json.loads(line) for line in self.console.getvalue().splitlines()]
        return [line for line in parsed if logger is None or line["logger"] == logger]

    def documents(self) -> list[dict]:
        return [json.loads(line) for line in self.metrics.getvalue().splitlines()]

    def values(self, name: str, **dimensions: str) -> list[float]:
        """Every value of a metric printed with exactly these dimensions (besides ``service``)."""
        found: list[float] = []
        for document in self.documents():
            [directive] = document["_aws"]["CloudWatchMetrics"]
            names = {metric["Name"] for metric in directive["Metrics"]}
            keys = set(directive["Dimensions"][0]) - {"service"}
            if name in names and {key: document[key] for key in keys} == dimensions:
                found.extend(document[name])
        return found

    def reset(self) -> None:
        for stream in (self.console, self.metrics):
            stream.seek(0)
            stream.truncate()


@pytest.fixture
def logged():
    """What the handlers the settings configure write during the test: the console's lines (JSON, the
    format tests and Lambda get) and the metrics' documents."""
    [console] = [handler for handler in logging.getLogger().handlers if handler.get_name() == "console"]
    [metrics] = [
        handler
        for handler in logging.getLogger("gallery.metrics").handlers
        if handler.get_name() == "metrics"
    ]
    captured = Captured(io.StringIO(), io.StringIO())
    previous = [
        (console, console.setStream(captured.console)),
        (metrics, metrics.setStream(captured.metrics)),
    ]
    yield captured
    for handler, stream in previous:
        handler.setStream(stream)
