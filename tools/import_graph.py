"""Print the library's import graph as the markdown table nbs/index.ipynb shows ("模块的依赖"); tests/test_architecture.py checks that
the table and the code agree. `python tools/import_graph.py --write` replaces the table in nbs/index.ipynb."""
import importlib.util, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("arch", ROOT / "tests" / "test_architecture.py")
arch = importlib.util.module_from_spec(spec); spec.loader.exec_module(arch)

def table() -> str:
    nb = arch.modules()
    rows = ["| module | notebook | imports (function-level ones too) |", "|---|---|---|"]
    order = lambda m: (m not in arch.FOUNDATION, ["plumbing", "core", "files"].index(m) if m in arch.FOUNDATION else 0, nb[m])
    for m in sorted(arch.GRAPH, key=order):
        deps = ", ".join(f"`{d}`" for d in sorted(arch.GRAPH[m], key=order))
        rows.append(f"| `{m}` | {nb[m]} | {deps or '—'} |")
    return "\n".join(rows)

if __name__ == "__main__":
    t = table()
    if "--write" in sys.argv:
        p = ROOT / "nbs" / "index.ipynb"
        d = json.loads(p.read_text(encoding="utf-8"))
        c = next(c for c in d["cells"] if "模块的依赖" in "".join(c["source"]))
        s = "".join(c["source"])
        s = re.sub(r"\| module \| notebook \|.*?(?=\n\n|\Z)", lambda m: t, s, flags=re.S)
        lines = s.split("\n"); c["source"] = [l + "\n" for l in lines[:-1]] + [lines[-1]]
        p.write_text(json.dumps(d, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(t)
