"""API views change state only through the apps' services: no model write, delete or audit event in an
API module. The services validate, hold the transaction and write the audit event; a view that wrote a
row itself would skip all three (found once: queue slots saved and deleted with no audit)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
API_MODULES = sorted(ROOT.glob("*/api/*.py"))
WRITES = {"save", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create", "create", "update",
          "record", "record_many", "set", "add", "remove", "clear"}


def writes_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            target = ast.unparse(node.func.value)
            # Building a response dict or reading a row is not a state change.
            if target in {"body", "data", "payload", "context", "headers", "standing"} or target.endswith("_data"):
                continue
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node.func)}(…)")
    return found


def test_api_modules_are_found():
    names = {str(p.relative_to(ROOT)) for p in API_MODULES}
    assert {"scheduling/api/views.py", "notifications/api/views.py", "content/api/views.py"} <= names


def test_no_api_module_writes_a_row_itself():
    offenders = [line for path in API_MODULES for line in writes_in(path)]
    assert not offenders, "\n".join(offenders)
