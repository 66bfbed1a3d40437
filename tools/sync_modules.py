"""Copy edits made in generated modules back into their notebooks' export cells (cells matched by the `# %% ../nbs/NB.ipynb #ID` markers
nbdev writes). A marker whose ID is not in the notebook adds a new export cell after the previous one; an export cell of that module
whose ID no module names any more is reported (and removed with --prune). Then run nbdev_export, which must reproduce the modules."""
import json, re, secrets, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import nbtool as T

def chunks(path: Path):
    src = path.read_text(encoding="utf-8")
    parts = re.split(r"(?m)^# %% (\S+) #(\S+)\n", src)
    for i in range(1, len(parts), 3):
        nb, cid, body = parts[i], parts[i + 1], parts[i + 2]
        if nb == "auto": continue
        yield Path(nb).name, cid, body.rstrip("\n")

def main(modules, prune=False):
    default = {}
    for nbp in (ROOT / "nbs").glob("*.ipynb"):
        m = re.search(r"#\|\s*default_exp[ \t]+([\w.]+)", nbp.read_text(encoding="utf-8"))
        if m: default[nbp.name] = m.group(1)
    for mod in modules:
        path = ROOT / "t2i_course" / f"{mod}.py"
        seen, by_nb = set(), {}
        for nbname, cid, body in chunks(path):
            by_nb.setdefault(nbname, []).append((cid, body))
        for nbname, items in by_nb.items():
            p = ROOT / "nbs" / nbname
            nb = T.load(p)
            directive = "#| export" if default.get(nbname) == mod else f"#| export {mod}"
            prev = None
            for cid, body in items:
                body = re.sub(r"(?m)^(\s*)from \.(\w)", r"\1from t2i_course.\2", body)      # notebooks import the package by name
                body = re.sub(r"(?m)^(\s*)from \. import", r"\1from t2i_course import", body)
                src = f"{directive}\n{body}"
                try:
                    i = T.idx(nb, cid)
                    if T.src(nb, i) != src: T.set_src(nb, i, src); print(f"{nbname} #{cid}: updated")
                except KeyError:
                    new = T.cell("code", src)
                    at = T.idx(nb, prev) if prev else 0
                    T.insert_after(nb, at, [new]); cid = new["id"]; print(f"{nbname}: new cell #{cid} after #{prev}")
                seen.add(cid); prev = cid
            for c in list(nb["cells"]):
                s = "".join(c["source"])
                m = re.match(r"#\|[ \t]*export(?:[ \t]+([\w.]+))?[ \t]*\n", s)
                if c["cell_type"] != "code" or not m: continue
                target = m.group(1) or default.get(nbname)
                if target == mod and c["id"] not in seen:
                    print(f"{nbname} #{c['id']}: export cell of {mod} that the module no longer has" + (" (removed)" if prune else ""))
                    if prune: nb["cells"].remove(c)
            T.save(nb, p)

if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--prune"]
    main(args, prune="--prune" in sys.argv)
