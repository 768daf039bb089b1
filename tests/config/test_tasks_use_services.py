"""Celery tasks change state only through services: a task takes ids and calls its app's domain
function, which validates, locks and audits. A task body that saves, updates or deletes rows itself
fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "analytics", "compliance", "content", "core", "notifications", "scheduling"]
WRITES = {"save", "update", "delete", "create", "bulk_create", "bulk_update", "get_or_create", "update_or_create",
          "select_for_update", "raw", "execute"}


def task_modules() -> list[Path]:
    return [ROOT / app / "tasks.py" for app in APPS if (ROOT / app / "tasks.py").exists()]


def direct_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "objects":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses a model manager")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} calls .{node.func.attr}()")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.endswith(".models"):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports models")
    return found


def test_there_are_task_modules_to_check():
    assert len(task_modules()) >= 5


@pytest.mark.parametrize("path", task_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_task_module_writes_no_rows_itself(path):
    assert direct_writes(path) == []
