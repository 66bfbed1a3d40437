"""Write chapter references in the notebooks' prose one way: "第 7 章" (no leading zero), linked to the notebook the first time a cell names it.

    python tools/link_chapters.py nbs/03_word_embeddings.ipynb ...   (no argument: every chapter in nbs/; not index.ipynb, whose links would break in README.md)

Then run `nbdev_clean`: the notebooks are written as JSON, not in the clean layout.
"""
import re, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from nbtool import load, save, src, set_src

NBS = Path(__file__).resolve().parent.parent / "nbs"
REF = re.compile(r"(\[)?第\s*0?(\d{1,2}[a-c]?)\s*章(\]\([^)]*\))?")

def chapters() -> dict[str, str]:
    out = {}
    for p in sorted(NBS.glob("[0-9][0-9]*.ipynb")):
        m = re.match(r"(\d\d)([a-c]?)_", p.name)
        if m: out[str(int(m.group(1))) + m.group(2)] = p.name
    return out

def link(path: Path, files: dict[str, str]) -> int:
    nb, changed = load(path), 0
    me = re.match(r"(\d\d)([a-c]?)_", path.name)
    me = str(int(me.group(1))) + me.group(2) if me else None
    for i, c in enumerate(nb["cells"]):
        if c["cell_type"] != "markdown": continue
        seen = set()
        def fix(m):
            linked, n = m.group(1) is not None and m.group(3) is not None, m.group(2)
            if linked: seen.add(n); return f"[第 {n} 章]{m.group(3)}"
            text = f"{m.group(1) or ''}第 {n} 章{m.group(3) or ''}"
            if m.group(1) or m.group(3) or n in seen or n == me or n not in files: return text
            seen.add(n)
            return f"[第 {n} 章]({files[n]})"
        s = src(nb, i)
        parts = re.split(r"(`[^`]*`|\$[^$]*\$|```.*?```)", s, flags=re.S)   # not inside code or maths
        new = "".join(p if k % 2 else REF.sub(fix, p) for k, p in enumerate(parts))
        if new != s: set_src(nb, i, new); changed += 1
    if changed: save(nb, path)
    return changed

if __name__ == "__main__":
    files = chapters()
    for p in (sys.argv[1:] or sorted(str(p) for p in NBS.glob("[0-9]*.ipynb"))):
        print(p, link(Path(p), files), "cells changed")
