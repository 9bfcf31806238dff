"""The fastrl package type-checks, and the stub of the native module matches it.

* mypy (pinned in requirements-test.txt, settings in pyproject.toml ``[tool.mypy]``) passes
  on the package sources, with ``python/fastrl/_fastrl.pyi`` typing the native module.
* ``_fastrl.pyi`` declares exactly the public names of the built ``fastrl._fastrl`` (the
  module and its classes), and mypy's stubtest finds its signatures (argument names,
  kinds, defaults) equal to the built module's. These two need the built module, as the
  rest of the tests do (scripts/python-env.sh installs it).
"""

import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bindings/fastrl-python
STUB = os.path.join(ROOT, "python", "fastrl", "_fastrl.pyi")


def _run(args, env=None):
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


def test_mypy_passes_on_the_package():
    proc = _run(["mypy"])
    out = proc.stdout + proc.stderr
    print(out)
    assert proc.returncode == 0, f"mypy failed (exit code {proc.returncode}):\n{out}"


def _public(names):
    return {n for n in names if not n.startswith("_")}


def _declared(body):
    """Names a stub's module or class body declares: defs, classes, (annotated) assignments."""
    names = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return _public(names)


def test_stub_declares_exactly_what_the_native_module_exports():
    from fastrl import _fastrl

    with open(STUB) as f:
        tree = ast.parse(f.read(), STUB)
    stub_names = _declared(tree.body)
    module_names = _public(dir(_fastrl))
    assert stub_names == module_names, (
        f"only in the module (add to _fastrl.pyi): {sorted(module_names - stub_names)}; "
        f"only in _fastrl.pyi (gone from the module): {sorted(stub_names - module_names)}"
    )
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    assert {"RawComposer", "WordNet"} <= set(classes)
    for name, node in classes.items():
        cls = getattr(_fastrl, name)
        assert isinstance(cls, type), f"{name} is a class in the stub, {type(cls).__name__} in the module"
        stub_members, members = _declared(node.body), _public(dir(cls))
        assert stub_members == members, (
            f"{name}: only in the module: {sorted(members - stub_members)}; "
            f"only in _fastrl.pyi: {sorted(stub_members - members)}"
        )


def test_stub_signatures_match_the_native_module():
    # stubtest imports the installed fastrl._fastrl and reads the stub from python/.
    env = dict(os.environ, MYPYPATH=os.path.join(ROOT, "python"))
    proc = _run(["mypy.stubtest", "fastrl._fastrl"], env=env)
    out = proc.stdout + proc.stderr
    print(out)
    assert proc.returncode == 0, f"stubtest failed (exit code {proc.returncode}):\n{out}"
