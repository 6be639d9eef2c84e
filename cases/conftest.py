"""Worked cases as data: a small pytest plugin that collects every ``cases/**/*.yaml`` file.

The case format and the runner are in ``engine/explain/cases.py`` (``carerules test`` uses the same runner
without pytest). Each case is one pytest item, named ``<file>::<case name>``; a failing case prints the file,
the case name, its source, and expected against actual for every part that differs (modelled on OpenFisca's
YAML test runner, ``openfisca_core/tools/test_runner.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.decide import default_engine
from engine.explain.cases import Case, CaseRunner, Outcome, describe, load_cases

_RUNNER: list[CaseRunner] = []


def _runner() -> CaseRunner:
    if not _RUNNER:
        _RUNNER.append(CaseRunner(default_engine().book))
    return _RUNNER[0]


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix == ".yaml":
        return CaseFile.from_parent(parent, path=file_path)
    return None


class CaseFile(pytest.File):
    def collect(self):  # type: ignore[no-untyped-def]
        for case in load_cases(self.path):
            yield CaseItem.from_parent(self, name=case.name, case=case)


class CaseFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        super().__init__(f"{len(outcome.mismatches)} mismatch(es)")


class CaseItem(pytest.Item):
    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        outcome = _runner().run(self.case)
        if not outcome.ok:
            raise CaseFailed(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if not isinstance(excinfo.value, CaseFailed):
            return super().repr_failure(excinfo)
        return "\n".join(describe(self.case, excinfo.value.outcome))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"case: {self.name}"
