"""The layering, read from the code: the pages, the API and the commands see the product's
errors only. Smart Assessor's client errors are translated by the services (one door), so no
view, API module or command imports or catches the client's exception types."""

import ast
import inspect
from pathlib import Path

import pytest

import smartassessor.client as client_package

ROOT = Path(__file__).resolve().parent.parent
INTERFACES = [
    "smartassessor/views.py",
    "smartassessor/enrolment_views.py",
    "smartassessor/sync_views.py",
    "smartassessor/reconciliation_views.py",
    "smartassessor/api.py",
    "smartassessor/panels.py",
    "smartassessor/management/commands/smartassessor.py",
    "learners/views.py",
    "learners/api.py",
]
CLIENT = "smartassessor.client"
CLIENT_EXCEPTIONS = {
    name
    for name, value in vars(client_package).items()
    if inspect.isclass(value) and issubclass(value, Exception)
}


def _absolute(path: str, node: ast.ImportFrom) -> str:
    """The module an import names, relative imports resolved against the file's package."""
    if not node.level:
        return node.module or ""
    package = path.removesuffix(".py").split("/")[: -node.level]
    return ".".join([*package, *([node.module] if node.module else [])])


def _violations(path: str) -> list[str]:
    tree = ast.parse((ROOT / path).read_text(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = _absolute(path, node)
            for alias in node.names:
                imported = f"{module}.{alias.name}"
                if imported == CLIENT or (
                    module.startswith(CLIENT) and alias.name in CLIENT_EXCEPTIONS
                ):
                    found.append(f"line {node.lineno}: imports {imported}")
        elif isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: imports {alias.name}"
                for alias in node.names
                if alias.name.startswith(CLIENT)
            ]
        elif isinstance(node, ast.ExceptHandler) and node.type is not None:
            for name in ast.walk(node.type):
                caught = getattr(name, "id", None) or getattr(name, "attr", None)
                if caught in CLIENT_EXCEPTIONS:
                    found.append(f"line {node.lineno}: catches {caught}")
    return found


def test_the_client_has_exception_types_to_look_for():
    assert {"SmartAssessorError", "NotFound", "Transient", "ValidationFailed"} <= CLIENT_EXCEPTIONS


@pytest.mark.parametrize("path", INTERFACES)
def test_no_view_api_or_command_imports_or_catches_the_clients_errors(path):
    assert _violations(path) == []
