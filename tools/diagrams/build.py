"""Write every concept diagram to nbs/images/NAME.svg: `python tools/diagrams/build.py [NAME ...]`.

Each module tools/diagrams/d_*.py has `DIAGRAMS = {"name": function}`; a function returns a matplotlib Figure drawn with
kit.py. The output is deterministic (no date, fixed ids), so rerunning changes a file only when its drawing changed.
"""
import importlib, sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "nbs" / "images"
sys.path.insert(0, str(HERE))

import matplotlib.pyplot as plt


def all_diagrams() -> dict:
    found = {}
    for p in sorted(HERE.glob("d_*.py")):
        for name, fn in importlib.import_module(p.stem).DIAGRAMS.items():
            if name in found: sys.exit(f"diagram {name!r} is defined twice")
            found[name] = fn
    return found


def main(names):
    OUT.mkdir(parents=True, exist_ok=True)
    found = all_diagrams()
    for n in names:
        if n not in found: sys.exit(f"no diagram {n!r}; there are: {', '.join(found)}")
    for name, fn in found.items():
        if names and name not in names: continue
        fig = fn()
        path = OUT / f"{name}.svg"
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight", pad_inches=0.05)
        plt.close(fig)
        print(f"{path.relative_to(OUT.parent.parent)}  {path.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__": main(sys.argv[1:])
