"""Moving a module's clock in tests: ``clock_at(monkeypatch, module, moment)`` makes ``datetime.now()``
in that module answer ``moment`` (every other use of ``datetime`` there is left as it is)."""

from datetime import datetime


def clock_at(monkeypatch, module, moment: datetime) -> None:
    class At(datetime):
        @classmethod
        def now(cls, tz=None):
            return moment

    monkeypatch.setattr(module, "datetime", At)
