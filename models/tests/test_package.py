"""models/ as a package: its version is trw's, and the installed console script's entry point is the
`python -m trw_models` one."""
import importlib.metadata
import os
import re

import pytest

import trw_models
from trw_models import __main__ as cli

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION_SWIFT = os.path.join(MODELS, "..", "Sources", "TRWCore", "Version.swift")


def test_version_is_trws():
    if not os.path.exists(VERSION_SWIFT):
        pytest.skip("not in a trw checkout")
    with open(VERSION_SWIFT) as f:
        swift = re.search(r'static let string = "([^"]+)"', f.read()).group(1)
    assert trw_models.__version__ == swift


def test_pyproject_entry_point_and_installed_metadata():
    tomllib = pytest.importorskip("tomllib")      # Python >= 3.11
    with open(os.path.join(MODELS, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["scripts"] == {"trw-models": "trw_models.__main__:main"}
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    try:
        dist = importlib.metadata.distribution("trw-models")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("trw-models is not installed in this environment")
    assert dist.version == trw_models.__version__
    assert [ep.value for ep in dist.entry_points if ep.group == "console_scripts"] == ["trw_models.__main__:main"]
