"""Fixtures shared by the tests in tests/ (pytest, against the installed package).

- `tmp_home` (session, autouse): IPython, matplotlib, Jupyter and the course's own cache
  write into a temporary folder, never into $HOME.
- `run_cli`: run the `t2i-course` command in a subprocess, `run_cli("data", "--n", "8")`.
- `repo_root`: the repository root (settings.ini, nbs/, tools/).
- markers: `slow` (deselect with `-m "not slow"`) and `gpu` (skipped without CUDA).
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOME_VARS = {  # environment variable -> sub-folder of the temporary home
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
    "JUPYTER_CONFIG_DIR": "jupyter-config",
    "JUPYTER_DATA_DIR": "jupyter-data",
    "T2I_COURSE_CACHE": "t2i-course-cache",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (deselect with -m 'not slow')")
    config.addinivalue_line("markers", "gpu: needs a CUDA device; skipped without one")


def pytest_collection_modifyitems(config, items):
    gpu_items = [it for it in items if it.get_closest_marker("gpu")]
    if not gpu_items: return  # do not import torch just to collect
    import torch
    if torch.cuda.is_available(): return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for it in gpu_items: it.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def tmp_home(tmp_path_factory):
    "Point the tools' and the course's per-user folders at a temporary folder for the whole session."
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        for var, sub in HOME_VARS.items():
            (home / sub).mkdir()
            mp.setenv(var, str(home / sub))
        mp.setenv("MPLBACKEND", "Agg")
        yield home


@pytest.fixture(scope="session")
def repo_root():
    "The repository root, for tests that read settings.ini, nbs/ or tools/."
    return ROOT


def cli_command():
    "The argv prefix that starts the command: the console script next to `sys.executable`, else `-m`."
    script = Path(sys.executable).with_name("t2i-course.exe" if os.name == "nt" else "t2i-course")
    return [str(script)] if script.exists() else [sys.executable, "-m", "t2i_course.cli"]


def _run_cli(*args, cwd=None, timeout=600, input=None, env=None):
    "Run `t2i-course *args` in a subprocess; returns the CompletedProcess (text, stdout and stderr captured)."
    full_env = {**os.environ, "PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8", **(env or {})}
    return subprocess.run([*cli_command(), *map(str, args)], cwd=cwd, env=full_env, input=input, timeout=timeout,
                          capture_output=True, text=True, encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def run_cli(tmp_home):
    "`run_cli(*args, cwd=None, timeout=600) -> CompletedProcess`; skips if `t2i_course.cli` is not there yet."
    if importlib.util.find_spec("t2i_course.cli") is None:
        pytest.skip("t2i_course.cli does not exist yet (exported from nbs/12_cli.ipynb)")
    return _run_cli


@pytest.fixture
def one_thread():
    "Run torch single-threaded: small nets gain nothing from 2 threads, and on a busy 2-core machine OpenMP spinning makes them many times slower."
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
