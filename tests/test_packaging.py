"""Every Python package the project needs is pinned in ``constraints.txt`` (the exact version
``scripts/bootstrap.sh`` installs), and the environment running the tests has those versions."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata

from tests.conftest import REPO

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, line in enumerate((REPO / "constraints.txt").read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep and NAME.fullmatch(name) and version, (
            f"constraints.txt line {number} is not 'name==version': {line!r}")
        assert _normal(name) not in pins, f"constraints.txt pins {name} twice"
        pins[_normal(name)] = version
    return pins


def _requirements() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted.extend(extra)
    return [_normal(match.group()) for r in wanted if (match := NAME.match(r))]


def test_every_dependency_is_pinned() -> None:
    pins = _pins()
    missing = sorted(set(_requirements()) - set(pins))
    assert not missing, f"pyproject.toml needs these, constraints.txt pins none: {missing}"


def test_the_environment_has_the_pinned_versions() -> None:
    installed = {_normal(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {name: (version, installed.get(name)) for name, version in _pins().items()
             if name in installed and installed[name] != version}
    assert not wrong, f"installed versions differ from constraints.txt (pinned, installed): {wrong}"
