"""trw's colour maps are matplotlib's own 8-bit tables: the CSV files under schemas/colormaps/
equal matplotlib's, and the Swift and Python tables generated from them
(scripts/gen-colormaps.py) equal the CSV files, entry for entry."""
import os
import re
import sys

import numpy as np
import pytest
from matplotlib import colormaps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models"))
from trw_models.mm import png  # noqa: E402
from trw_models.mm.colormap_tables import TABLES  # noqa: E402

MAPS = ("inferno", "gray")


def csv_table(name):
    rows = open(os.path.join(ROOT, "schemas", "colormaps", name + ".csv")).read().split()
    assert rows[0] == "index,r,g,b"
    t = np.array([[int(v) for v in r.split(",")] for r in rows[1:]])
    assert t.shape == (256, 4) and list(t[:, 0]) == list(range(256))
    return t[:, 1:].astype(np.uint8)


def swift_table(name):
    src = open(os.path.join(ROOT, "Sources", "TRWAnalysis", "ColorMapTables.swift")).read()
    m = re.search(r"static let %sTable: \[UInt8\] = \[(.*?)\]" % name, src, re.S)
    assert m, f"{name}Table not in ColorMapTables.swift"
    return np.array([int(v) for v in m.group(1).replace(",", " ").split()], np.uint8).reshape(256, 3)


@pytest.mark.parametrize("name", MAPS)
def test_csv_is_matplotlibs_table(name):
    expected = colormaps[name](np.arange(256), bytes=True)[:, :3]
    assert np.array_equal(csv_table(name), expected)


@pytest.mark.parametrize("name", MAPS)
def test_generated_tables_equal_the_csv(name):
    t = csv_table(name)
    assert np.array_equal(swift_table(name), t)
    assert np.array_equal(np.array(TABLES[name], np.uint8), t)


@pytest.mark.parametrize("name", MAPS)
def test_python_colormap_maps_values_as_matplotlib(name):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-0.2, 1.2, 5000), np.arange(257) / 256, [0.0, 1.0, -1e9, 1e9, 255.5 / 256]])
    got = png.colormap(x, 0.0, 1.0, name=name)
    assert np.array_equal(got, colormaps[name](x, bytes=True)[:, :3])
    # Over a temperature range, as trw frame and trw video use it.
    c = rng.uniform(15, 320, 2000)
    assert np.array_equal(png.colormap(c, 20.0, 300.0, name=name),
                          colormaps[name]((c - 20.0) / 280.0, bytes=True)[:, :3])


def test_unknown_map_is_refused():
    with pytest.raises(ValueError, match="not one of"):
        png.colormap(np.zeros(3), name="jet")
