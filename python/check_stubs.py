"""Fails when larder/_larder.pyi and the compiled module larder._larder drift apart: every
public name of one must be in the other, and functions and methods must take the same
parameters (names and order, from the module's text signatures).

Run: python python/check_stubs.py (with larder installed)."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import larder._larder as mod

STUB = Path(__file__).parent / "larder" / "_larder.pyi"


def stub_params(fn: ast.FunctionDef) -> list[str]:
    a = fn.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    return [n for n in names if n not in ("self", "cls")]


def real_params(obj: object) -> list[str] | None:
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return [n for n in sig.parameters if n not in ("self", "cls", "$self")]


def public(names: object) -> set[str]:
    return {n for n in names if not n.startswith("_") or n == "__version__"}  # type: ignore[attr-defined]


def main() -> int:
    tree = ast.parse(STUB.read_text())
    problems: list[str] = []
    stubbed: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            stubbed[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            stubbed[node.target.id] = node
    module_names = public(dir(mod))
    for n in sorted(module_names - set(stubbed)):
        problems.append(f"{n}: in the module, not in the stubs")
    for n in sorted(set(stubbed) - module_names):
        problems.append(f"{n}: in the stubs, not in the module")
    for name, node in stubbed.items():
        if name not in module_names:
            continue
        real = getattr(mod, name)
        if isinstance(node, ast.FunctionDef):
            want, got = stub_params(node), real_params(real)
            if got is not None and want != got:
                problems.append(f"{name}: stub takes {want}, module takes {got}")
        elif isinstance(node, ast.ClassDef):
            members = {
                m.name: m
                for m in node.body
                if isinstance(m, ast.FunctionDef)
                and (not m.name.startswith("_") or m.name == "__array_interface__")
            }
            real_members = {m for m in dir(real) if not m.startswith("_") or m == "__array_interface__"}
            for m in sorted(real_members - set(members)):
                problems.append(f"{name}.{m}: in the module, not in the stubs")
            for m in sorted(set(members) - real_members):
                problems.append(f"{name}.{m}: in the stubs, not in the module")
            for m, fn in members.items():
                attr = inspect.getattr_static(real, m, None)
                is_prop = any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)
                if attr is None or is_prop:
                    continue
                want, got = stub_params(fn), real_params(getattr(real, m))
                if got is not None and want != got:
                    problems.append(f"{name}.{m}: stub takes {want}, module takes {got}")
    for p in problems:
        print(f"stubs: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
