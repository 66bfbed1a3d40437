"""Small notebook editing helpers (ids, insert, replace, delete). Afterwards run `python tools/run_notebooks.py NAME`: it executes the notebook and writes it clean."""
import json, secrets, sys
from pathlib import Path

def load(p): return json.loads(Path(p).read_text(encoding="utf-8"))
def save(nb, p): Path(p).write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
def lines(src): 
    ls = src.split("\n")
    return [l + "\n" for l in ls[:-1]] + ([ls[-1]] if ls[-1] else [])
def cell(kind, src, id=None):
    c = {"cell_type": kind, "id": id or secrets.token_hex(4), "metadata": {}, "source": lines(src)}
    if kind == "code": c.update(execution_count=None, outputs=[])
    return c
def idx(nb, cid):
    for i, c in enumerate(nb["cells"]):
        if c.get("id") == cid: return i
    raise KeyError(cid)
def find(nb, text):
    hits = [i for i, c in enumerate(nb["cells"]) if text in "".join(c["source"])]
    if len(hits) != 1: raise KeyError(f"{text!r}: {len(hits)} hits")
    return hits[0]
def src(nb, i): return "".join(nb["cells"][i]["source"])
def set_src(nb, i, s): nb["cells"][i]["source"] = lines(s)
def insert_after(nb, i, cells):
    nb["cells"][i + 1:i + 1] = cells
def replace_text(nb, old, new):
    i = find(nb, old); set_src(nb, i, src(nb, i).replace(old, new)); return i
