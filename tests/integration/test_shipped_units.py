# SPDX-License-Identifier: GPL-2.0-or-later
"""Every unit file we ship parses cleanly: the examples are documentation that must not rot."""

import subprocess

import pytest

from conftest import ROOT, SANDBOXCTL

pytestmark = pytest.mark.layout_independent

UNITS = sorted((ROOT / "units").rglob("*.unit"))


def test_units_are_shipped():
    assert (ROOT / "units" / "web.unit") in UNITS
    assert len(UNITS) >= 4


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_shipped_unit_verifies(unit):
    r = subprocess.run([str(SANDBOXCTL), "verify", str(unit)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
