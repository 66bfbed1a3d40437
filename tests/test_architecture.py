"""The library's import graph, checked: no module imports a later chapter's module, the trainer's loop imports no model family, no
private name crosses modules, and the graph printed in nbs/index.ipynb ("模块的依赖") is the one the code has."""
import ast
import json
import re
from pathlib import Path

import pytest

import t2i_course

PKG = Path(t2i_course.__file__).parent
INDEX = PKG.parent / "nbs" / "index.ipynb"
ON_TOP = {"cli"}                          # the command line wires every chapter together (like the package's __init__)
FOUNDATION = {"core", "files", "plumbing"}   # chapter 00 and the appendix's plumbing: every chapter may use them
FAMILIES = {"vaegan", "vaegan_family", "flow"}


def modules() -> dict[str, str]:
    "module -> the notebook it is exported from (the 'File to edit' line nbdev writes)."
    out = {}
    for p in sorted(PKG.glob("*.py")):
        if p.name in ("__init__.py", "_modidx.py"): continue
        m = re.search(r"File to edit: \.\./nbs/([\w.]+)\.ipynb", p.read_text(encoding="utf-8"))
        assert m, f"{p.name}: no 'File to edit' line: every module is exported from a notebook"
        out[p.stem] = m.group(1)
    return out


def imports(name: str, module_level: bool = False) -> dict[str, set[str]]:
    """The modules of the package `name` imports -> the names it takes from each: anywhere (module level or inside functions),
    or at module level only (an import inside a function is how a module defers one; cycles are checked without them)."""
    tree = ast.parse((PKG / f"{name}.py").read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for node in (tree.body if module_level else ast.walk(tree)):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level == 1: target = mod.split(".")[0] if mod else None
            elif mod.startswith("t2i_course."): target = mod.split(".")[1]
            elif mod == "t2i_course": target = None
            else: continue
            if target is None:                                  # `from . import __version__` / `from t2i_course import x`
                for a in node.names:
                    if (PKG / f"{a.name}.py").exists(): out.setdefault(a.name, set())
                continue
            out.setdefault(target, set()).update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("t2i_course."): out.setdefault(a.name.split(".")[1], set())
    out.pop(name, None)
    return out


def chapter(notebook: str) -> int:
    return int(re.match(r"\d+", notebook).group())


GRAPH = {m: imports(m) for m in modules()}


def test_no_module_imports_a_later_chapter():
    nb = modules()
    bad = []
    for m, deps in GRAPH.items():
        if m in ON_TOP or m in FOUNDATION: continue
        for d in deps:
            if d in FOUNDATION: continue
            if d in ON_TOP or chapter(nb[d]) > chapter(nb[m]): bad.append(f"{m} ({nb[m]}) imports {d} ({nb[d]})")
    assert not bad, "imports from a later chapter: " + "; ".join(bad)


def test_foundation_imports_no_chapter():
    bad = [f"{m} imports {d}" for m in FOUNDATION for d in GRAPH[m] if d not in FOUNDATION]
    assert not bad, bad


def test_no_cycles_at_module_level():
    top = {m: imports(m, module_level=True) for m in GRAPH}
    seen, stack = set(), []
    def visit(m):
        if m in stack: pytest.fail("import cycle: " + " -> ".join(stack[stack.index(m):] + [m]))
        if m in seen: return
        stack.append(m)
        for d in top.get(m, ()): visit(d)
        stack.pop(); seen.add(m)
    for m in GRAPH: visit(m)


def test_the_training_loop_imports_no_model_family():
    assert not FAMILIES & set(GRAPH["train"]), GRAPH["train"]
    assert not FAMILIES & set(GRAPH["pipeline"]) - {"vaegan"} and "vaegan" not in GRAPH["pipeline"], GRAPH["pipeline"]
    assert not FAMILIES & set(GRAPH["widgets"]), GRAPH["widgets"]


def test_no_private_name_crosses_modules():
    bad = [f"{m} takes {n} from {d}" for m, deps in GRAPH.items() for d, names in deps.items() for n in names
           if n.startswith("_") and not n.startswith("__")]
    assert not bad, bad


def documented_graph() -> dict[str, set[str]]:
    "The table 'module | chapter | imports' in nbs/index.ipynb."
    cells = json.loads(INDEX.read_text(encoding="utf-8"))["cells"]
    text = next("".join(c["source"]) for c in cells if "模块的依赖" in "".join(c["source"]))
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([^|]*) \|$", text, flags=re.M)
    return {m: set(re.findall(r"`(\w+)`", deps)) for m, deps in rows}


@pytest.mark.skipif(not INDEX.exists(), reason="needs the checkout's nbs/")
def test_the_index_shows_the_graph_the_code_has():
    assert documented_graph() == {m: set(d) for m, d in GRAPH.items()}
