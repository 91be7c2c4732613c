# SPDX-License-Identifier: GPL-2.0-or-later
"""Namespaces=user: root inside is an unprivileged id range on the host; the image's files look
as they should (idmapped layers); what the sandbox writes is owned by its range; and its root,
whatever its capabilities, owns none of the other namespaces."""

import os
from pathlib import Path

from conftest import sandbox_exec, unit_text

USERNS = "Namespaces=pid mount uts ipc net user"


def status_ids(pid):
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    uid = [l for l in lines if l.startswith("Uid:")][0].split()[1:]
    return [int(x) for x in uid]


def test_root_inside_is_an_unprivileged_range_outside(daemon, layers):
    daemon.write_unit("uns.unit", unit_text(
        layers, "/bin/sh -c 'id; ls -ln /etc/passwd; echo hi > /etc/created && echo wrote; "
                "exec sleep 1000'", sandbox=USERNS + "\nHostname=uns"))
    daemon.ctl("start", "uns.unit")
    p = daemon.show("uns.unit")
    base = int(p["UserNamespace"].split()[1])
    assert p["UserNamespace"] == f"0 {base} 65536"
    assert base >= 0x80000 and base % 65536 == 0
    pid = int(p["MainPID"])
    assert status_ids(pid) == [base] * 4
    assert Path(f"/proc/{pid}/uid_map").read_text().split() == ["0", str(base), "65536"]
    assert Path(f"/proc/{pid}/gid_map").read_text().split() == ["0", str(base), "65536"]
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    daemon.wait_for("uns.unit", lambda p: "wrote" in daemon.log("uns.unit"))
    log = daemon.log("uns.unit")
    assert "uid=0(root) gid=0(root)" in log
    # the image's root-owned files are root's inside (idmapped layers) ...
    assert " 0        0 " in [l for l in log.splitlines() if l.endswith("/etc/passwd")][0]
    # ... and what it writes is owned by its own range on the host, in the rw layer only
    created = daemon.state / "sandboxes" / "uns.unit" / "upper" / "etc" / "created"
    assert created.stat().st_uid == base and created.stat().st_gid == base
    assert not (layers["base"] / "etc" / "created").exists()
    assert (layers["base"] / "etc" / "passwd").stat().st_uid == 0  # the layer is untouched
    st = daemon.ctl("status", "uns.unit").stdout
    assert f"0-65535 inside are {base}-{base + 65535} on the host" in st


def test_user_maps_into_the_range(daemon, layers):
    daemon.write_unit("unsw.unit", unit_text(layers, "/bin/sleep 1000",
                                             sandbox=USERNS + "\nUser=www"))
    daemon.ctl("start", "unsw.unit")
    p = daemon.show("unsw.unit")
    base = int(p["UserNamespace"].split()[1])
    assert status_ids(int(p["MainPID"])) == [base + 33] * 4


def test_root_cannot_mount_even_with_cap_sys_admin(daemon, layers):
    daemon.write_unit("unsm.unit", unit_text(
        layers, "/bin/sh -c 'mount -t tmpfs none /tmp; echo rc=$?; hostname evil; echo h=$?; "
                "exec sleep 1000'",
        sandbox=USERNS + "\nCapabilityBoundingSet=CAP_SYS_ADMIN\nHostname=kept"))
    daemon.ctl("start", "unsm.unit")
    pid = int(daemon.show("unsm.unit")["MainPID"])
    daemon.wait_for("unsm.unit", lambda p: "h=" in daemon.log("unsm.unit"))
    log = daemon.log("unsm.unit")
    # the mount and uts namespaces belong to the host's user namespace, not the sandbox's
    assert "rc=0" not in log and "h=0" not in log
    assert sandbox_exec(pid, "hostname").stdout.strip() == "kept"


def test_root_directory_is_idmapped_too(daemon, layers):
    daemon.write_unit("unsr.unit", f"""[Sandbox]
RootDirectory={layers['base']}
ReadOnly=yes
{USERNS}
[Service]
ExecStart=/bin/sh -c 'ls -ln /bin/busybox; exec sleep 1000'
""")
    daemon.ctl("start", "unsr.unit")
    daemon.wait_for("unsr.unit", lambda p: "busybox" in daemon.log("unsr.unit"))
    line = [l for l in daemon.payload_output("unsr.unit") if l.endswith("/bin/busybox")][0]
    assert line.split()[2:4] == ["0", "0"], line


def test_two_units_get_distinct_ranges(daemon, layers):
    for name in ("rangea.unit", "rangeb.unit"):
        daemon.write_unit(name, unit_text(layers, "/bin/sleep 1000", sandbox=USERNS))
        daemon.ctl("start", name)
    a = daemon.show("rangea.unit")["UserNamespace"].split()[1]
    b = daemon.show("rangeb.unit")["UserNamespace"].split()[1]
    assert a != b
