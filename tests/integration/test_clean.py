# SPDX-License-Identifier: GPL-2.0-or-later
"""sandboxctl clean removes whatever a payload left in its rw layer. A root payload's chain of
30,000 directories took a recursive removal in the root daemon one fd per level (EMFILE, at
every try) and, deeper still, past its 8 MiB stack; the state was then impossible to clean."""

import os
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, unit_text

pytestmark = pytest.mark.layout_independent

DEEP_TREE = BUILD / "tests" / "helpers" / "deep-tree"
LEVELS = 30000


@pytest.fixture(scope="module")
def deep_tree_layer(tmp_path_factory):
    d = tmp_path_factory.mktemp("deep-tree")
    (d / "bin").mkdir()
    shutil.copy2(DEEP_TREE, d / "bin" / "deep-tree")
    return d


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture
def deep_state(daemon):
    """The unit's state directory, removed with rm -rf if clean failed: pytest's own removal of
    old temporary directories recurses, and would leave the chain behind."""
    state = daemon.state / "sandboxes" / "deep.unit"
    yield state
    if state.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(state)], check=False)


def test_clean_removes_a_30000_deep_chain(daemon, layers, deep_tree_layer, deep_state):
    # the limits of a service (the daemon raises its soft limit to the hard one): well below
    # one fd per level
    daemon.stop()
    daemon.start(nofile=(1024, 4096))
    pid = daemon.proc.pid
    daemon.write_unit("deep.unit", unit_text(layers, f"/bin/deep-tree /root/chain {LEVELS}",
                                             sandbox=f"Layers={deep_tree_layer}"))
    daemon.ctl("start", "deep.unit")
    p = daemon.wait_for("deep.unit", lambda p: p["ActiveState"] in ("inactive", "failed"),
                        timeout=300)
    assert p["Result"] == "success", (p, daemon.log("deep.unit"))
    assert f"built {LEVELS} levels" in daemon.payload_output("deep.unit")
    chain = deep_state / "upper" / "root" / "chain"
    assert (chain / "f").exists() and (chain / "d" / "d").is_dir()

    t0 = time.monotonic()
    daemon.ctl("clean", "deep.unit", timeout=600)  # a job: no 25 s limit (slow v2 guest)
    print(f"clean of a {LEVELS}-deep chain: {time.monotonic() - t0:.2f}s")
    assert not deep_state.exists()
    assert not (daemon.runtime / "sandboxes" / "deep.unit").exists()
    # the same daemon, still answering, holding no more fds than a daemon does
    assert daemon.proc.poll() is None and daemon.proc.pid == pid
    assert daemon.show("deep.unit")["ActiveState"] == "inactive"
    assert "deep.unit" in daemon.ctl("list").stdout
    assert fd_count(pid) < 64
