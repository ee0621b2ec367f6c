"""What ``pip install .`` ships: every module and data file the package needs.

The package list in pyproject.toml is explicit (channel_templates/ is mapped into the
package), so a new subpackage left off it built a wheel whose ``feedsync`` could not
start (``feedsync.apis`` was missing: the README's first command failed on a fresh
machine). The wheel is built here, offline, from a copy of the sources.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.helpers import REPO

SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
    "tool"]["setuptools"]


def _source_files() -> set[str]:
    """Every file the installed package must hold, as wheel paths."""
    wanted = set()
    for path in (REPO / "feedsync").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            wanted.add(path.relative_to(REPO).as_posix())
    for path in (REPO / "channel_templates").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            wanted.add("feedsync/channel_templates/" +
                       path.relative_to(REPO / "channel_templates").as_posix())
    return wanted


def test_every_subpackage_is_listed() -> None:
    found = {".".join(p.parent.relative_to(REPO).parts)
             for p in (REPO / "feedsync").rglob("__init__.py")
             if "__pycache__" not in p.parts}
    assert found <= set(SETUPTOOLS["packages"]), found - set(SETUPTOOLS["packages"])


def test_the_wheel_holds_every_module_and_data_file(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("feedsync", "channel_templates"):
        shutil.copytree(REPO / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("feedsync-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n for n in archive.namelist() if not n.startswith("feedsync-")}
    missing = _source_files() - shipped
    assert not missing, sorted(missing)
    assert "feedsync/apis/deliver.py" in shipped
    _builds_the_example_from(wheel, tmp_path)


def _builds_the_example_from(wheel: Path, tmp_path: Path) -> None:
    """The README's first command, run by the installed wheel alone (its dependencies
    are this environment's; the checkout is not on the path)."""
    target = tmp_path / "installed"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
         "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", "import sys, feedsync.cli; print(feedsync.cli.__file__, "
         "file=sys.stderr); sys.argv[0] = 'feedsync'; feedsync.cli.main()",
         "build", str(REPO / "examples" / "catalog.csv"), "--channel", "google",
         "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith(str(target)), run.stderr   # the wheel's code ran
    assert b"<g:id>" in (tmp_path / "out" / "google.xml").read_bytes()
