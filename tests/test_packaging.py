"""Packaging: the wheel, its metadata and the import of the package.

settings.ini is the one config file: the version, the requirements and the console script
in the built wheel must be the ones it names; the library must not need the notebook tools
(nbdev, execnb, fastcore) at run time, and `import t2i_course` must stay light.
"""
import ast
import importlib.util
import json
import shutil
import subprocess
import sys
import zipfile
from configparser import ConfigParser
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "t2i_course"
DEV_ONLY = {"nbdev", "execnb", "fastcore"}
RUNTIME = {"torch": ">=2.4", "numpy": None, "pillow": None, "matplotlib": None, "jieba": None, "gensim": None,
           "ipywidgets": None, "tqdm": None, "safetensors": None, "sacrebleu": None, "tensorboardx": None}  # name -> exact specifier, where it matters
HEAVY = ["torch", "jieba", "gensim"]
LAZY_NAMES = {  # what `t2i_course` re-exports, by the module that defines it
    "core": ["set_seed", "get_device", "show_images", "trace_shapes"],
    "data": ["COLORS", "SHAPES", "SIZES", "MATERIALS", "ZH", "SceneObject", "Scene", "sample_scenes", "render",
             "caption", "make_dataset", "load_dataset", "save_dataset", "load_clevr", "load_coco_captions",
             "ImageCaptionFolder"],
    "text": ["tokenize", "Vocab"],
    "pipeline": ["TextToImage", "save_run"],
    "evaluate": ["Judge", "load_or_train_judge", "evaluate_generator", "evaluate_run"],
}


def settings():
    cfg = ConfigParser(delimiters=["="])
    cfg.read(ROOT / "settings.ini", encoding="utf-8")
    return cfg["DEFAULT"]


def modules():
    "The library's modules, as paths inside the wheel."
    return sorted(f"t2i_course/{p.relative_to(PKG).as_posix()}" for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def python(code, timeout=300):
    "Run `code` in a fresh interpreter from the repository root; returns its stdout."
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


# ---- the wheel --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    "Build the wheel once (a few seconds), offline, from a copy of the sources so that the work tree stays clean."
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("setuptools is needed to build the wheel offline (pip install setuptools)")
    tmp = tmp_path_factory.mktemp("wheel")
    src, out = tmp / "src", tmp / "dist"
    src.mkdir()
    for name in ["setup.py", "settings.ini", "README.md", "MANIFEST.in", "LICENSE", "pyproject.toml"]:
        if (ROOT / name).exists(): shutil.copy2(ROOT / name, src / name)
    shutil.copytree(PKG, src / "t2i_course", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "--disable-pip-version-check", "-q", "-w", str(out), str(src)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"pip wheel failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    (whl,) = out.glob("t2i_course-*.whl")
    return whl


def dist_info(whl, name):
    with zipfile.ZipFile(whl) as z:
        (path,) = [n for n in z.namelist() if n.endswith(f".dist-info/{name}")]
        return z.read(path).decode("utf-8")


def test_wheel_holds_modules_and_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [f"t2i_course/{p.relative_to(PKG).as_posix()}" for p in (PKG / "assets" / "eval").rglob("*") if p.is_file()]
    assert len(shipped) >= 7, "the evaluation models (two judges, one dual encoder) should ship in t2i_course/assets/eval"
    run = [f"t2i_course/assets/runs/cpu/{f}" for f in ("config.json", "vocab.json", "model.safetensors")]   # the shipped generator
    shipped += run
    for f in ["t2i_course/assets/t2i-cjk.otf", "t2i_course/assets/OFL.txt", *modules(), *shipped]:
        assert f in names, f"{f} missing from {wheel.name}"
    tops = {n.split("/")[0] for n in names}
    assert tops == {"t2i_course", f"t2i_course-{settings()['version']}.dist-info"}, f"unexpected top-level entries: {tops}"


def test_wheel_metadata(wheel):
    meta = Parser().parsestr(dist_info(wheel, "METADATA"))
    assert meta["Name"] == settings()["lib_name"] and meta["Version"] == settings()["version"]
    reqs = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    runtime = {r.name.lower(): r for r in reqs if r.marker is None}
    for name, spec in RUNTIME.items():
        assert name in runtime, f"{name} is not a runtime requirement: {sorted(runtime)}"
        if spec: assert str(runtime[name].specifier) == spec, f"{name}{runtime[name].specifier}, expected {name}{spec}"
    for r in reqs:
        if r.name.lower() in DEV_ONLY:
            assert r.marker is not None and r.marker.evaluate({"extra": "dev"}) and not r.marker.evaluate({"extra": ""}), \
                f"{r} must be required only by the 'dev' extra"
    assert DEV_ONLY <= {r.name.lower() for r in reqs}, "the 'dev' extra should bring nbdev, execnb and fastcore"
    assert "dev" in meta.get_all("Provides-Extra")


def test_wheel_console_script(wheel):
    eps = ConfigParser(delimiters=["="])
    eps.read_string(dist_info(wheel, "entry_points.txt"))
    assert eps["console_scripts"]["t2i-course"].replace(" ", "") == "t2i_course.cli:main"


# ---- the sources and the import ----------------------------------------------------------

def imported_roots(path):
    "Top-level names of every module `path` imports (import statements and import_module/__import__ with a literal)."
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import): roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module: roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__"):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_modules_do_not_import_dev_tools():
    bad = {f: sorted(imported_roots(ROOT / f) & DEV_ONLY) for f in modules()}
    assert not {f: b for f, b in bad.items() if b}, "library modules must not import nbdev, execnb or fastcore"


def test_import_is_light_and_versioned():
    out = python("import sys, json, t2i_course; "
                 f"print(json.dumps([t2i_course.__version__, [m for m in {HEAVY!r} if m in sys.modules]]))")
    version, heavy = json.loads(out.strip().splitlines()[-1])
    assert version == settings()["version"], f"t2i_course.__version__ is {version}, settings.ini says {settings()['version']}"
    assert heavy == [], f"`import t2i_course` imported {heavy}"


@pytest.mark.parametrize("mod", sorted(LAZY_NAMES))
def test_lazy_reexports(mod):
    if not (PKG / f"{mod}.py").exists(): pytest.skip(f"t2i_course/{mod}.py does not exist yet")
    names = LAZY_NAMES[mod]
    out = python(f"import t2i_course, t2i_course.{mod} as m; "
                 f"print([n for n in {names!r} if getattr(t2i_course, n) is not getattr(m, n)]); "
                 f"print(sorted(set({names!r}) - set(t2i_course.__all__) - set(dir(t2i_course))))")
    differ, missing = out.strip().splitlines()[-2:]
    assert differ == "[]", f"t2i_course.<name> is not t2i_course.{mod}.<name> for {differ}"
    assert missing == "[]", f"not listed in t2i_course.__all__/dir(): {missing}"


def test_unknown_attribute_raises():
    out = python("import t2i_course\ntry: t2i_course.no_such_name\nexcept AttributeError as e: print('ok', e)")
    assert out.startswith("ok") and "no_such_name" in out


def test_console_script_target_exists():
    if not (PKG / "cli.py").exists(): pytest.skip("t2i_course/cli.py does not exist yet (nbs/12_cli.ipynb)")
    python("from t2i_course.cli import main; assert callable(main)")


def test_cli_help(run_cli):
    r = run_cli("--help", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "data" in r.stdout


# ---- one source of truth --------------------------------------------------------------

def test_readme_matches_index():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "make_readme.py"), "--check"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_readme_drops_hidden_cells(tmp_path):
    "tools/make_readme.py drops `#| hide` cells and strips other directives, as nbdev's docs would."
    nbformat = pytest.importorskip("nbformat")
    spec = importlib.util.spec_from_file_location("make_readme", ROOT / "tools" / "make_readme.py")
    make_readme = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_readme)
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# Title"), v4.new_code_cell("#| hide\nimport secret_setup"),
                                v4.new_code_cell("#| export\ndef shown(): pass")])
    nbformat.write(nb, tmp_path / "index.ipynb")
    text, files = make_readme.render(tmp_path / "index.ipynb")
    assert "# Title" in text and "def shown(): pass" in text and files == {}
    assert "secret_setup" not in text and "#|" not in text
