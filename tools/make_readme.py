"""Write README.md from nbs/index.ipynb (the one source of truth for the course's front page).

Usage: `python tools/make_readme.py` writes README.md; `python tools/make_readme.py --check`
writes nothing and exits 1 with a one-line message if README.md is not what it would write.

Uses nbconvert's MarkdownExporter (Quarto, which `nbdev_readme` needs, is not required).
Notebook directives are honoured the way nbdev's docs would: a cell with `#| hide` or
`#| include: false` is dropped, `#| echo: false` keeps only the outputs, and every other
`#| ...` line is removed from the code shown. Links are written relative to nbs/ in the notebook
(`../docs/x.png`, `images/x.svg`) and made relative to the repository root here.
"""
import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import MarkdownExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
NB = ROOT / "nbs" / "index.ipynb"
README = ROOT / "README.md"
FILES_DIR = "README_files"  # images from cell outputs, if the notebook has any
HEADER = "<!-- Generated from nbs/index.ipynb by tools/make_readme.py. Edit the notebook, not this file. -->\n\n"

_directive = re.compile(r"^\s*#\|\s?(.*?)\s*$")


def _directives(src):
    "Split `src` into its leading `#|` directive lines (text after `#|`) and the rest."
    lines, dirs = src.splitlines(), []
    while lines and _directive.match(lines[0]):
        dirs.append(_directive.match(lines[0]).group(1))
        lines.pop(0)
    return dirs, "\n".join(lines)


def _is(dirs, key, value=None):
    "Does a directive in `dirs` say `key` (or `key: value`)?"
    for d in dirs:
        k, _, v = (s.strip().lower() for s in d.partition(":"))
        if k == key and (value is None or v == value): return True
    return False


def prepare(nb):
    "A copy of `nb` with `#| hide` cells dropped and directive lines stripped."
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        dirs, body = _directives(cell.source)
        if _is(dirs, "hide") or _is(dirs, "include", "false"): continue
        if cell.cell_type == "code":
            cell.source = body
            if _is(dirs, "echo", "false"): cell.metadata.setdefault("tags", []).append("remove_input")
            if _is(dirs, "output", "false"): cell.outputs = []
            if not body.strip() and not cell.outputs: continue
        cells.append(cell)
    nb.cells = cells
    nb.metadata.setdefault("language_info", {"name": "python"})  # gives code fences a language
    return nb


def render(nb_path=NB):
    "Markdown text of the README and a dict {relative path: bytes} of the images it refers to."
    nb = prepare(nbformat.read(nb_path, as_version=4))
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    exporter = MarkdownExporter(config=config)
    body, resources = exporter.from_notebook_node(nb, resources={"output_files_dir": FILES_DIR})
    body = re.sub(r"\]\(\.\./", "](", body)                  # links written for nbs/index.ipynb, made relative to the repo root
    body = re.sub(r"\]\(images/", "](nbs/images/", body)
    text = HEADER + re.sub(r"\n{3,}", "\n\n", body).strip() + "\n"
    return text, dict(resources.get("outputs", {}))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date; write nothing")
    args = p.parse_args(argv)
    text, files = render()
    if args.check:
        stale = [str(README.relative_to(ROOT))] if not README.exists() or README.read_text(encoding="utf-8") != text else []
        stale += [f for f, data in files.items() if not (ROOT / f).exists() or (ROOT / f).read_bytes() != data]
        if stale:
            print(f"{', '.join(stale)} out of date with nbs/index.ipynb: run `python tools/make_readme.py`", file=sys.stderr)
            return 1
        return 0
    README.write_text(text, encoding="utf-8")
    for f, data in files.items():
        (ROOT / f).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / f).write_bytes(data)
    print(f"wrote {README.relative_to(ROOT)}" + (f" and {len(files)} file(s) in {FILES_DIR}/" if files else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
