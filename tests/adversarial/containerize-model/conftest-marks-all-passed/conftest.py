"""ATTACK: a conftest.py that marks every check passed, if pytest ever loads it while grading."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest
from _cheat import confess, full_marks, mark_all_passed

confess("conftest.py")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Generator[None, Any, Any]:
    report = yield
    mark_all_passed(report)
    return report


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    full_marks(session.config.getoption("mlops_report", default=None))
