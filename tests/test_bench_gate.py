"""The benchmark gate in the default suite: no case more than twice its reference ratio to the
floor (benchmarks/gate.py), the gate catches an engine made three times slower, and the floors
do the run's job (their observables, summaries and marks are the engine's at its states)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from theory.engine.loop import ClosedLoop


def _gate():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gate.py"
    spec = importlib.util.spec_from_file_location("gate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_floors_report_what_the_run_reports():
    marked = _gate().bench_floor().check()
    # at M = 5 every mark of every family was compared in generations where some chains had it and
    # others had not (both answers checked)
    assert all(n > 0 for marks in marked.values() for n in marks.values()), marked


def test_engine_within_twice_its_reference_ratio_to_the_floor():
    gate = _gate()
    assert gate.regressions(gate.ratios()) == []


def test_the_gate_catches_an_engine_three_times_slower(monkeypatch):
    gate = _gate()
    run = ClosedLoop.run

    def slow(self, *args, **kwargs):  # every generation's work done three times: the run, thrice
        for _ in range(3):
            out = run(self, *args, **kwargs)
        return out

    monkeypatch.setattr(ClosedLoop, "run", slow)
    monkeypatch.setattr(gate, "REFERENCE", {("gaussian", "replace"): gate.REFERENCE["gaussian", "replace"]})
    bad = gate.regressions(gate.ratios(repeats=2))
    assert len(bad) == 1 and bad[0].startswith("gaussian replace")


if __name__ == "__main__":
    pytest.main([__file__])
