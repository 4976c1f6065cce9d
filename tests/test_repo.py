"""The repository's own promises: one environment everywhere, the two commands, CI calling them."""

import re
import subprocess
import sys
from pathlib import Path

import yaml
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return Requirement(requirement).name.lower().replace("_", "-")


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not a 'name==version' pin"
            pins[_name(name)] = version
    return pins


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {r for r in pip_section if not r.startswith("-e")}
    # torch is pinned exactly in environment.yml (conda users have no constraints file).
    listed_names = {_name(r): r for r in listed}
    assert listed_names.pop("torch") == f"torch=={_constraints()['torch']}"
    wanted_names = {_name(r): r for r in wanted}
    wanted_names.pop("torch")
    assert listed_names == wanted_names
    assert "-e ." in pip_section, "environment.yml must install the package itself"
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    minimum = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, python.split("=")[1].split("."))) >= tuple(map(int, minimum.split(".")))


def test_every_dependency_is_pinned_in_constraints():
    project = _pyproject()["project"]
    pins = _constraints()
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["dev"]]:
        marker = Requirement(requirement).marker
        if marker is not None and not marker.evaluate():
            continue  # not installed on this Python, so not pinned from it
        assert _name(requirement) in pins, f"{requirement} has no tested pin in constraints.txt"
    assert pins["torch"] == "2.13.0"


def test_readme_quickstart_gives_the_two_commands_and_ci_runs_one_of_them():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make lab" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("lab:", "test:", "bench:", "install:"):
        assert re.search(rf"^{target}", makefile, re.M), f"Makefile has no {target} target"


def test_no_large_files_are_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in tracked.stdout.split():
        path = ROOT / name
        if path.is_file():
            assert path.stat().st_size < 5_000_000, f"{name} is over 5 MB"


def test_the_code_is_ruff_clean():
    ruff = Path(sys.executable).parent / "ruff"
    for command in (["check", "--no-cache", "."], ["format", "--check", "--no-cache", "."]):
        result = subprocess.run([str(ruff), *command], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, f"ruff {' '.join(command)}:\n{result.stdout}{result.stderr}"


def test_the_start_here_check_asks_for_the_runtime_dependencies():
    # Lesson 0's environment check and pyproject's runtime dependencies name the same minimum versions.
    from bltlib import envcheck

    wanted = {}
    for requirement in _pyproject()["project"]["dependencies"]:
        parsed = Requirement(requirement)
        (spec,) = parsed.specifier
        assert spec.operator == ">=", requirement
        wanted[_name(requirement)] = spec.version
    assert {_name(name): minimum for name, minimum in envcheck.REQUIRED.items()} == wanted
