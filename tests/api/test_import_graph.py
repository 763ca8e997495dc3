"""Imports point down: views → services/selectors → models and boundaries → referral_api.

The graph is read from the source with `ast` (nothing is imported): every module of the project's
packages, migrations aside, with an edge for each import of another project module. Imports under
`if TYPE_CHECKING:` are for the type checker only and are left out; imports inside functions are
kept (they run, only later). The rules are STYLE.md's ("Imports point down"); each checker is
also fed a small graph that breaks its rule, so a checker that reports nothing cannot pass.
"""

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.project_modules import APPS, module_files

# Foundation modules allowed to know the apps: the URLconf includes them, settings names them.
FOUNDATION_EXCEPTIONS = frozenset({"referral_api.urls", "referral_api.settings"})

Graph = dict[str, set[str]]


# --- reading the graph ----------------------------------------------------------------------


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(nodes: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those in `if TYPE_CHECKING:` bodies."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from _import_nodes(node.orelse)
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                yield from _import_nodes([child])


def _resolve(name: str, known: set[str]) -> str | None:
    """The project module `name` is, or the nearest project package that contains it."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, source: str, *, is_package: bool, known: set[str]) -> set[str]:
    """The project modules that `module` imports (`from pkg import mod` resolves to the module)."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(source).body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` names a module when pkg.mod is one, else an attribute of pkg.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            resolved = _resolve(target, known)
            if resolved is not None and resolved != module:
                found.add(resolved)
    return found


def build_graph(files: dict[str, Path]) -> Graph:
    known = set(files)
    return {
        module: imports_of(
            module, path.read_text(), is_package=path.name == "__init__.py", known=known
        )
        for module, path in files.items()
    }


# --- the rules --------------------------------------------------------------------------------


def find_cycle(graph: Graph) -> list[str] | None:
    """One import cycle as a path that returns to its start (a → b → a), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle is not None:
                    return cycle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle is not None:
                return cycle
    return None


def _parts(module: str) -> list[str]:
    return module.split(".")


def is_views(module: str) -> bool:
    return "views" in _parts(module)[1:]


def is_urls(module: str) -> bool:
    return _parts(module)[-1] == "urls"


def app_of(module: str) -> str:
    return _parts(module)[0]


def views_import_violations(graph: Graph) -> list[str]:
    """Views are imported only by views and URLconfs, and never by another app's views."""
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if not is_views(target):
                continue
            if not (is_views(module) or is_urls(module)):
                found.append(f"{module} imports {target}: only views and URLconfs import views")
            elif is_views(module) and app_of(module) != app_of(target):
                found.append(f"{module} imports {target}: one app's views import another's")
    return found


def _path_to(graph: Graph, start: str, test: Callable[[str], bool]) -> list[str]:
    """The shortest import path from `start` to a module that `test` accepts, or []."""
    queue = [[start]]
    seen = {start}
    while queue:
        path = queue.pop(0)
        for target in sorted(graph.get(path[-1], ())):
            if target in seen:
                continue
            seen.add(target)
            if test(target):
                return [*path, target]
            queue.append([*path, target])
    return []


def foundation_violations(graph: Graph) -> list[str]:
    """`referral_api` (settings and URLconf aside) reaches no app, directly or through others."""
    found = []
    for module in sorted(graph):
        if app_of(module) != "referral_api" or module in FOUNDATION_EXCEPTIONS:
            continue
        path = _path_to(graph, module, lambda target: app_of(target) in APPS)
        if path:
            found.append(" → ".join(path))
    return found


def _is_model_layer(module: str) -> bool:
    return bool({"models", "managers"} & set(_parts(module)[1:]))


def _is_services(module: str) -> bool:
    return "services" in _parts(module)[1:]


def model_layer_violations(graph: Graph) -> list[str]:
    """Models and managers reach no service module, directly or through others."""
    found = []
    for module in sorted(graph):
        if not _is_model_layer(module):
            continue
        path = _path_to(graph, module, _is_services)
        if path:
            found.append(" → ".join(path))
    return found


# --- the project's graph ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(module_files())


def test_import_graph_reads_every_module_of_the_project(graph):
    # Spot checks that the reader sees real edges (a reader that finds none passes every rule).
    assert {"referral_api.errors", "referral_api.error_codes"} <= set(graph)
    assert "users.migrations.0001_initial" not in graph
    assert "invites.services" in graph["users.services"]
    assert "referral_api.redis_store" in graph["users.otp"]
    assert "users.views" in graph["users.urls"]
    # `if TYPE_CHECKING:` imports are left out: the manager names the model for mypy only.
    assert "users.models" not in graph["users.managers"]
    # Imports inside functions count: the app config loads its checks when Django is ready.
    assert "users.checks" in graph["users.apps"]


def test_import_graph_has_no_cycle(graph):
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_import_graph_views_are_imported_only_by_urls_and_their_own_apps_views(graph):
    assert views_import_violations(graph) == []


def test_import_graph_referral_api_foundation_imports_no_app(graph):
    assert foundation_violations(graph) == []


def test_import_graph_models_and_managers_never_import_services(graph):
    assert model_layer_violations(graph) == []


# --- the checkers catch what they are for -------------------------------------------------------


def test_find_cycle_reports_the_cycle():
    graph = {
        "users.views": {"users.services"},
        "users.services": {"invites.services"},
        "invites.services": {"users.services", "users.models"},
        "users.models": set(),
    }

    assert find_cycle(graph) == ["invites.services", "users.services", "invites.services"]


def test_find_cycle_accepts_a_graph_that_points_down():
    graph = {"users.views": {"users.services", "users.models"}, "users.services": {"users.models"}}

    assert find_cycle(graph) is None


def test_views_import_violations_reports_upward_and_cross_app_imports():
    graph = {
        "users.services": {"users.views"},
        "invites.views": {"users.views", "invites.services"},
        "invites.urls": {"invites.views"},
        "referral_api.urls": {"users.views"},
        "web.views.pages": {"web.views"},
    }

    assert views_import_violations(graph) == [
        "invites.views imports users.views: one app's views import another's",
        "users.services imports users.views: only views and URLconfs import views",
    ]


def test_foundation_violations_reports_direct_and_indirect_imports_of_apps():
    graph = {
        "referral_api.errors": {"referral_api.error_codes"},
        "referral_api.error_codes": {"users.exceptions"},
        "referral_api.openapi": {"referral_api.urls"},
        "referral_api.urls": {"users.urls"},
        "referral_api.settings": {"users.checks"},
        "users.urls": set(),
    }

    assert foundation_violations(graph) == [
        "referral_api.error_codes → users.exceptions",
        "referral_api.errors → referral_api.error_codes → users.exceptions",
        "referral_api.openapi → referral_api.urls → users.urls",
    ]


def test_model_layer_violations_reports_models_and_managers_that_reach_services():
    graph = {
        "users.models": {"users.managers"},
        "users.managers": {"users.invite_codes"},
        "users.invite_codes": {"invites.services"},
        "invites.services": {"users.models"},
        "invites.selectors": {"users.models"},
    }

    assert model_layer_violations(graph) == [
        "users.managers → users.invite_codes → invites.services",
        "users.models → users.managers → users.invite_codes → invites.services",
    ]


@pytest.mark.parametrize(
    ("module", "is_package", "source", "expected"),
    [
        ("pkg.a", False, "from pkg import b", {"pkg.b"}),
        ("pkg.a", False, "from pkg import CONSTANT", {"pkg"}),
        ("pkg.a", False, "from pkg.b import name", {"pkg.b"}),
        ("pkg.a", False, "import pkg.b.c", {"pkg.b"}),
        ("pkg.a", False, "from . import b", {"pkg.b"}),
        ("pkg.a", False, "from .b import name", {"pkg.b"}),
        ("pkg", True, "from .b import name", {"pkg.b"}),
        ("pkg.a", False, "import os\nfrom django.db import models", set()),
        (
            "pkg.a",
            False,
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import b",
            set(),
        ),
        (
            "pkg.a",
            False,
            "import typing\nif typing.TYPE_CHECKING:\n    import pkg.b\nelse:\n    import pkg",
            {"pkg"},
        ),
        ("pkg.a", False, "def later():\n    from pkg import b", {"pkg.b"}),
        ("pkg.a", False, "try:\n    import pkg.b\nexcept ImportError:\n    pass", {"pkg.b"}),
    ],
)
def test_imports_of_resolves_what_a_module_imports(module, is_package, source, expected):
    known = {"pkg", "pkg.a", "pkg.b"}

    assert imports_of(module, source, is_package=is_package, known=known) == expected
