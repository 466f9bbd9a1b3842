"""The lock files agree with pyproject.toml: every requirement there is locked at a version its range
allows, with hashes; nothing is locked as a direct requirement that pyproject.toml no longer asks for;
the runtime lock and the test lock pin the same versions (scripts/lock writes them, scripts/setup
installs them)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
LOCKS = REPO / "requirements"
# where scripts/lock resolves: the machines this project runs on
ENVIRONMENT = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux",
               "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
               "implementation_name": "cpython", "platform_python_implementation": "CPython"}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
DIRECT = ("hotline (pyproject.toml)", "requirements/build.in")


@dataclass(frozen=True)
class Locked:
    version: Version
    hashes: int
    direct: bool  # "# via" names pyproject.toml or build.in


def read_lock(path: Path) -> dict[str, Locked]:
    """name -> what the lock file says of it (pins, their hashes and their `# via` lines)."""
    entries: dict[str, Locked] = {}
    name = ""
    version = Version("0")
    hashes = 0
    vias: list[str] = []

    def close() -> None:
        if name:
            entries[name] = Locked(version, hashes, any(v in line for line in vias for v in DIRECT))

    for line in path.read_text(encoding="utf-8").splitlines():
        pin = PIN.match(line)
        if pin:
            close()
            name, version, hashes, vias = canonicalize_name(pin[1]), Version(pin[2]), 0, []
        elif "--hash=sha256:" in line:
            hashes += 1
        elif line.lstrip().startswith("#") and name:
            vias.append(line)
    close()
    return entries


def requirements(*extras: str) -> list[Requirement]:
    """What pyproject.toml (its dependencies, the given extras, its build system) and build.in ask
    for, on this project's machines."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    texts = list(project["project"]["dependencies"]) + list(project["build-system"]["requires"])
    for extra in extras:
        texts += project["project"]["optional-dependencies"][extra]
    for line in (LOCKS / "build.in").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            texts.append(line.strip())
    reqs = [Requirement(t) for t in texts]
    return [r for r in reqs if r.marker is None or r.marker.evaluate(ENVIRONMENT)]


@pytest.mark.parametrize(("lock", "extra"), [("test.txt", "test"), ("main.txt", "model")])
def test_lock_pins_every_requirement_within_its_range(lock: str, extra: str) -> None:
    locked = read_lock(LOCKS / lock)
    wrong = []
    for req in requirements(extra):
        got = locked.get(canonicalize_name(req.name))
        if got is None:
            wrong.append(f"{req}: not in {lock}")
        elif not req.specifier.contains(got.version, prereleases=True):
            wrong.append(f"{req}: {lock} has {got.version}")
    assert not wrong, "the lock disagrees with pyproject.toml (run scripts/lock): " + "; ".join(wrong)


@pytest.mark.parametrize(("lock", "extra"), [("test.txt", "test"), ("main.txt", "model")])
def test_lock_has_no_direct_requirement_pyproject_dropped(lock: str, extra: str) -> None:
    asked = {canonicalize_name(r.name) for r in requirements(extra)}
    stale = sorted(name for name, entry in read_lock(LOCKS / lock).items() if entry.direct and name not in asked)
    assert not stale, f"{lock} still locks what pyproject.toml no longer asks for (run scripts/lock): {stale}"


@pytest.mark.parametrize("lock", ["test.txt", "main.txt"])
def test_every_locked_package_has_hashes(lock: str) -> None:
    locked = read_lock(LOCKS / lock)
    assert len(locked) > 20
    assert [name for name, entry in locked.items() if entry.hashes == 0] == []


def test_runtime_and_test_locks_pin_the_same_versions() -> None:
    test, main = read_lock(LOCKS / "test.txt"), read_lock(LOCKS / "main.txt")
    assert set(main) <= set(test)
    assert {n: str(e.version) for n, e in main.items()} == {n: str(test[n].version) for n in main}


def test_the_reader_sees_a_disagreement(tmp_path: Path) -> None:
    """The checks above can fail: a lock pinning redis outside pyproject's range, without hashes."""
    bad = tmp_path / "bad.txt"
    bad.write_text("redis==4.0.0\n    # via hotline (pyproject.toml)\nleftover==1.0 \\\n"
                   "    --hash=sha256:00\n    # via requirements/build.in\n", encoding="utf-8")
    locked = read_lock(bad)
    redis_req = next(r for r in requirements("test") if r.name == "redis")
    assert not redis_req.specifier.contains(locked["redis"].version)
    assert locked["redis"].hashes == 0 and locked["leftover"] == Locked(Version("1.0"), 1, True)
