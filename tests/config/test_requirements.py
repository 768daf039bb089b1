"""`requirements.txt` alone must run the app: every third-party module that app code imports is
declared there by name, not merely pulled in by a dev tool or another package.

A module only `requirements-dev.txt` brought in once made `make run` fail on a fresh machine while
every test passed; relying on a transitive dependency breaks the same way when that package drops it.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_APP_CODE = {"tests", "bench", ".venv", "venv", "var", "node_modules", ".git", "migrations", "test-artifacts"}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(path: Path) -> set[str]:
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if match:
            names.add(_norm(match.group(0)))
    return names


def local_names() -> set[str]:
    return {p.name for p in ROOT.iterdir() if p.is_dir()} | {p.stem for p in ROOT.glob("*.py")}


def app_imports() -> dict[str, str]:
    """Top-level module → first file importing it, over app code (every import, even inside functions)."""
    found: dict[str, str] = {}
    local = local_names()
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if NOT_APP_CODE & set(rel.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(rel))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in local and top not in sys.stdlib_module_names:
                    found.setdefault(top, str(rel))
    return found


def test_every_third_party_import_of_app_code_is_declared_in_requirements_txt():
    runtime = declared(ROOT / "requirements.txt")
    dev_only = declared(ROOT / "requirements-dev.txt") - runtime
    providers = metadata.packages_distributions()
    problems = []
    for module, where in sorted(app_imports().items()):
        dists = {_norm(d) for d in providers.get(module, [])}
        if dists & runtime:
            continue
        hint = "only in requirements-dev.txt" if dists & dev_only else f"provided by {sorted(dists) or 'nothing'}"
        problems.append(f"{module} (imported in {where}; {hint})")
    assert not problems, "Declare these in requirements.txt:\n" + "\n".join(problems)


def test_the_scan_sees_imports_inside_functions(tmp_path):
    # The guard must not be fooled by a lazy import: those fail just as hard at run time.
    source = "def f():\n    import regex\n    from yaml import safe_load\n"
    tree = ast.parse(source)
    names = {n.names[0].name if isinstance(n, ast.Import) else n.module
             for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)}
    assert names == {"regex", "yaml"}


def test_requirements_are_pinned():
    unpinned = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
                if line.split("#", 1)[0].strip() and not line.startswith("-")
                and "==" not in line.split("#", 1)[0]]
    assert not unpinned, f"Pin these with ==: {unpinned}"
