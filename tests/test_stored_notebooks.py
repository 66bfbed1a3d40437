"The notebooks are stored executed top to bottom (tools/run_notebooks.py), clean, and small enough to read online."
import copy
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "tools" / "run_notebooks.py")
rn = importlib.util.module_from_spec(spec); spec.loader.exec_module(rn)
NOTEBOOKS = sorted((ROOT / "nbs").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_is_stored_executed_clean_and_under_a_megabyte(path):
    assert rn.problems(path) == []


def test_figures_are_stored_where_a_chapter_draws_them():
    pngs = {p.stem: sum("image/png" in o.get("data", {}) for c in json.loads(p.read_text())["cells"] for o in c.get("outputs", []))
            for p in NOTEBOOKS}
    for chapter in ("01_data", "03_word_embeddings", "05_vae", "06a_toy_gan", "07_vaegan", "09_generate"): assert pngs[chapter] > 0, chapter


def _nb(counts, slow_at=None):
    cells = []
    for i, n in enumerate(counts):
        src = "#| slow\nx = 1" if i == slow_at else f"x = {i}"
        cells.append({"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {} if n is None else {rn.RUN: n},
                      "outputs": [], "source": src})
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_the_check_finds_cells_not_run_or_run_out_of_order(tmp_path):
    p = tmp_path / "x.ipynb"
    write = lambda nb: p.write_text(rn.dumps(rn.clean(copy.deepcopy(nb))), encoding="utf-8")
    write(_nb([1, 2, 3])); assert rn.problems(p) == []
    write(_nb([1, None, 2], slow_at=1)); assert rn.problems(p) == []           # a slow cell need not run
    write(_nb([1, 2, 3], slow_at=1)); assert rn.problems(p) == []              # run with --slow, it counts like any other
    write(_nb([1, 3, 2], slow_at=1)); assert "not executed top to bottom" in rn.problems(p)[0]
    write(_nb([1, 3, 2])); assert "not executed top to bottom" in rn.problems(p)[0]
    write(_nb([1, None, 3])); assert "no execution count" in rn.problems(p)[0]
    write(_nb([2, 3])); assert "expected 1" in rn.problems(p)[0]
    p.write_text(json.dumps(_nb([1, 2])), encoding="utf-8"); assert rn.problems(p) == ["not clean"]
    dirty = _nb([1, 2]); dirty["cells"][0]["execution_count"] = 1                # what a kernel leaves: nbdev_clean would change it
    p.write_text(rn.dumps(dirty), encoding="utf-8"); assert rn.problems(p) == ["not clean"]
    big = _nb([1]); big["cells"][0]["outputs"] = [{"name": "stdout", "output_type": "stream", "text": ["x" * 1_000_001]}]
    write(big); assert "over the 1,000,000 limit" in rn.problems(p)[0]
