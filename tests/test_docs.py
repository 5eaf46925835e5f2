"""Every hook and every vendor method is documented, with its exact signature, in the guides;
every hook is exercised by a test."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from hub import hookspecs

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_GUIDE = ROOT / "docs" / "plugins.md"
AUTHORING_GUIDE = ROOT / "docs" / "plugin-authoring.md"
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
    guide = PLUGIN_GUIDE.read_text(encoding="utf-8")
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


def signature(function: ast.FunctionDef | ast.AsyncFunctionDef, returns: bool = True) -> str:
    """A function's signature as the guides write it: without `self`, `async ` when it is."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    pairs = list(zip(positional, defaults, strict=True))
    if args.kwonlyargs:
        pairs.append((ast.arg("*"), None))
        pairs += zip(args.kwonlyargs, args.kw_defaults, strict=True)
    params = []
    for arg, default in pairs:
        if arg.arg == "self":
            continue
        text = arg.arg if arg.annotation is None else f"{arg.arg}: {ast.unparse(arg.annotation)}"
        params.append(text if default is None else f"{text} = {ast.unparse(default)}")
    prefix = "async " if isinstance(function, ast.AsyncFunctionDef) else ""
    result = f" -> {ast.unparse(function.returns)}" if returns and function.returns else ""
    return f"{prefix}{function.name}({', '.join(params)}){result}"


def functions(path: Path, protocols_only: bool) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The hook specs of a module, or the methods of its `Protocol` classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    if not protocols_only:
        return [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and "Protocol" in [ast.unparse(b) for b in node.bases]:
            found += [f for f in node.body if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
    return found


VENDOR_METHODS = {f.name: f for f in functions(ROOT / "hub" / "vendors.py", protocols_only=True)}
HOOK_SPECS = {f.name: f for f in functions(ROOT / "hub" / "hookspecs.py", protocols_only=False)}


def test_every_vendor_protocol_method_is_found() -> None:
    for method in ("check_camera", "stream_source", "connect", "device_info", "events", "close"):
        assert method in VENDOR_METHODS
    assert sorted(HOOK_SPECS) == HOOKS


@pytest.mark.parametrize("method", sorted(VENDOR_METHODS))
def test_vendor_method_is_in_the_authoring_guide(method: str) -> None:
    guide = AUTHORING_GUIDE.read_text(encoding="utf-8")
    function = VENDOR_METHODS[method]
    heading = f"### `{signature(function)}`"
    assert heading in guide, f"docs/plugin-authoring.md has no section {heading}"
    doc = ast.get_docstring(function)
    assert doc, f"{method} in hub/vendors.py has no docstring"
    first = doc.splitlines()[0]
    section = guide.split(heading, 1)[1].split("\n### ", 1)[0]
    assert first in section, f"the section of {method} should quote its docstring: {first}"
    assert "```python" in section, f"the section of {method} needs an example"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_signature_is_in_the_plugin_guide(hook: str) -> None:
    heading = f"### `{signature(HOOK_SPECS[hook], returns=False)}`"
    guide = PLUGIN_GUIDE.read_text(encoding="utf-8")
    assert heading in guide, f"docs/plugins.md should head hook {hook} with {heading}"
    section = guide.split(heading, 1)[1].split("\n### ", 1)[0]
    assert "```python" in section, f"the section of {hook} in docs/plugins.md needs an example"
    assert "\n- `" in section, f"the section of {hook} in docs/plugins.md should say its parameters"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_listed_in_the_authoring_guide(hook: str) -> None:
    guide = AUTHORING_GUIDE.read_text(encoding="utf-8")
    assert f"`{signature(HOOK_SPECS[hook], returns=False)}`" in guide


def test_the_guides_link_to_each_other() -> None:
    for page in ("docs/plugins.md", "docs/vendors.md", "README.md"):
        text = (ROOT / page).read_text(encoding="utf-8")
        assert "plugin-authoring.md" in text, f"{page} should link to the authoring guide"
