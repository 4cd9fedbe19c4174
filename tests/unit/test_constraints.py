"""constraints.txt pins every dependency the tests ran with, in versions pyproject.toml allows."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib

from packaging.requirements import Requirement

from tests.conftest import ROOT


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    found = {}
    for line in lines:
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version.strip(), f"not an exact pin: {line!r}"
            found[_name(name)] = version.strip()
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]  # what the README's test command (.ci/run) installs
    return [Requirement(r) for r in project["dependencies"] + extras["test"] + extras["spark"]]


def test_every_declared_dependency_is_pinned_within_its_range():
    pinned = pins()
    for requirement in declared():
        name = _name(requirement.name)
        assert name in pinned, f"{name} is in pyproject.toml but not in constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, pinned[name])


def test_the_installed_stack_is_the_pinned_one():
    """The README and .ci/run install with -c constraints.txt: what runs is what was pinned."""
    for name, version in pins().items():
        assert importlib.metadata.version(name) == version, name


def test_every_pin_is_needed():
    """No stale pins: each pinned package is required by pyproject.toml's dependencies (with the test
    and spark extras), directly or not."""
    needed, todo = set(), declared()
    while todo:
        requirement = todo.pop()
        name = _name(requirement.name)
        if name in needed:
            continue
        needed.add(name)
        extras = requirement.extras or {""}
        for text in importlib.metadata.distribution(name).requires or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    assert set(pins()) <= needed, set(pins()) - needed
