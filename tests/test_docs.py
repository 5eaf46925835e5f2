"""Every hook is documented in the plugin guide and exercised by a test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from hub import hookspecs

ROOT = Path(__file__).resolve().parent.parent
HOOKS = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "pantau_spec")
)


def test_there_are_hooks() -> None:
    assert "setup" in HOOKS and "register_camera_vendors" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_one_line_docstring(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and "\n" not in doc.strip(), f"hook {hook} needs a one-line docstring"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_in_the_plugin_guide(hook: str) -> None:
    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    assert f"### `{hook}(" in guide, f"docs/plugins.md has no section for hook {hook}"
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc is not None and doc in guide, f"docs/plugins.md should quote the docstring of {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_used_by_a_test(hook: str) -> None:
    sources = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (ROOT / "tests").rglob("test_*.py")
        if p.name != "test_docs.py"
    )
    assert f"def {hook}(" in sources, f"no test implements hook {hook}"
