"""The sandbox is a separate program: it imports nothing of the product, and the product imports
nothing of it (but the ``run_sandbox`` launcher)."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
PRODUCT = ("learners", "smartassessor", "picsweb")
LAUNCHER = REPOSITORY / "smartassessor" / "management" / "commands" / "run_sandbox.py"
SANDBOX_MODULES = sorted(
    f"sandbox.{path.stem}"
    for path in (REPOSITORY / "sandbox").glob("*.py")
    if path.stem not in ("__init__", "__main__")
)
# Python 3.11 lists 3.11's standard library (sys.stdlib_module_names).
IMPORTED = """
import importlib, json, sys
before = set(sys.modules)
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted({name.split(".")[0] for name in set(sys.modules) - before})))
"""


def without_django() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}


def top_level_imports(*modules: str) -> set[str]:
    """The top-level packages that importing ``modules`` loads, in a fresh interpreter with no
    Django settings."""
    result = subprocess.run(
        [sys.executable, "-c", IMPORTED, *modules],
        cwd=REPOSITORY,
        env=without_django(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(result.stdout))


def test_the_sandbox_imports_nothing_of_the_product_nor_django():
    assert "sandbox.server" in SANDBOX_MODULES and "sandbox.store" in SANDBOX_MODULES

    imported = top_level_imports(*SANDBOX_MODULES)

    assert imported & {*PRODUCT, "django", "rest_framework", "celery"} == set()


def test_the_sandbox_server_runs_on_the_standard_library_alone():
    server_side = [name for name in SANDBOX_MODULES if name != "sandbox.control"]

    imported = top_level_imports(*server_side)

    assert imported - set(sys.stdlib_module_names) - {"sandbox"} == set()


def test_python_m_sandbox_starts_without_the_product_settings():
    result = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"],
        cwd=REPOSITORY,
        env=without_django(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "--client-key" in result.stdout


def _imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", PRODUCT)
def test_no_product_module_imports_the_sandbox(package):
    offenders = [
        str(path.relative_to(REPOSITORY))
        for path in (REPOSITORY / package).rglob("*.py")
        if path != LAUNCHER
        and any(name.split(".")[0] == "sandbox" for name in _imported_names(path))
    ]

    assert offenders == []
