# SPDX-License-Identifier: GPL-2.0-or-later
"""[Unit] dependencies: Requires=, Wants=, After=, Before=, BindsTo=, PartOf=, Conflicts=,
OnFailure=, the start and stop jobs they make, verify's cycle check and list-dependencies."""

import time

from conftest import unit_text


def sleeper(layers, unit="", service="", text="up"):
    return unit_text(layers, f"/bin/sh -c 'echo {text}; exec sleep 1000'", unit=unit,
                     service=service)


def state(daemon, unit):
    return daemon.show(unit).get("ActiveState")


def test_requires_and_wants_are_pulled_in_and_after_orders_them(daemon, layers):
    daemon.write_unit("db.unit", sleeper(layers, text="db"))
    daemon.write_unit("app.unit", sleeper(layers, unit="Requires=db\nAfter=db.unit"))
    daemon.write_unit("cache.unit", sleeper(layers))
    daemon.write_unit("web.unit", sleeper(layers, unit="Requires=app\nAfter=app\nWants=cache"))
    daemon.ctl("start", "web")  # answered once everything it pulled in is done
    for u in ("db.unit", "app.unit", "cache.unit", "web.unit"):
        assert state(daemon, u) == "active", daemon.output.read_text()[-3000:]
    # each start began only once the unit it is ordered after had started, in sandboxd's
    # own order of events
    out = daemon.output.read_text()
    assert out.index("db.unit: Started") < out.index("app.unit: Starting.") < \
        out.index("app.unit: Started") < out.index("web.unit: Starting.")
    # cache has no order: it started side by side with db
    assert out.index("cache.unit: Starting.") < out.index("app.unit: Starting.")


def test_stopping_a_required_unit_stops_its_dependents_in_reverse_order(daemon, layers):
    daemon.write_unit("db.unit", sleeper(layers))
    daemon.write_unit("app.unit", sleeper(layers, unit="Requires=db\nAfter=db"))
    daemon.write_unit("web.unit", sleeper(layers, unit="Requires=app\nAfter=app"))
    daemon.write_unit("side.unit", sleeper(layers, unit="Wants=db\nAfter=db"))
    daemon.ctl("start", "web", "side")
    daemon.ctl("stop", "db")
    for u in ("db.unit", "app.unit", "web.unit"):
        assert state(daemon, u) == "inactive"
    assert state(daemon, "side.unit") == "active"  # Wants= does not propagate a stop
    out = daemon.output.read_text()
    assert out.index("web.unit: Stopped") < out.index("app.unit: Stopped") < \
        out.index("db.unit: Stopped")


def test_a_failed_requirement_fails_the_dependents_with_result_dependency(daemon, layers):
    daemon.write_unit("db.unit", unit_text(layers, "/no/such/binary"))
    daemon.write_unit("app.unit", sleeper(layers, unit="Requires=db\nAfter=db"))
    daemon.write_unit("web.unit", sleeper(layers, unit="Requires=app\nAfter=app\nWants=cache"))
    daemon.write_unit("cache.unit", unit_text(layers, "/no/such/binary"))
    r = daemon.ctl("start", "web", check=False)
    assert r.returncode != 0
    assert "dependency app.unit failed to start" in r.stderr
    assert "dependency db.unit failed to start" in r.stderr, r.stderr
    for u in ("app.unit", "web.unit"):
        p = daemon.show(u)
        assert (p["ActiveState"], p["Result"]) == ("failed", "dependency"), p
    assert daemon.show("db.unit")["Result"] == "resources"
    # never started: no cgroup, no log of a start
    assert "Started" not in daemon.log("web.unit")
    # a wanted unit that fails does not fail the start
    daemon.write_unit("db.unit", sleeper(layers))
    daemon.ctl("reset-failed", "db", "app", "web")
    daemon.ctl("start", "web")
    assert state(daemon, "web.unit") == "active"
    assert state(daemon, "cache.unit") == "failed"


def test_requires_without_after_does_not_wait(daemon, layers):
    daemon.write_unit("db.unit", unit_text(layers, "/no/such/binary"))
    daemon.write_unit("app.unit", sleeper(layers, unit="Requires=db"))
    daemon.ctl("start", "app")  # systemd's meaning: without After= both start side by side
    assert state(daemon, "app.unit") == "active"
    assert state(daemon, "db.unit") == "failed"


def test_an_ordering_cycle_is_refused_and_named_by_verify(daemon, layers):
    a = daemon.write_unit("a.unit", sleeper(layers, unit="Requires=b\nAfter=b"))
    b = daemon.write_unit("b.unit", sleeper(layers, unit="After=a.unit"))
    r = daemon.ctl("start", "a", check=False)
    assert r.returncode != 0
    assert "ordering cycle: a.unit -> b.unit -> a.unit" in r.stderr, r.stderr
    assert f"{a}:4 After=b.unit" in r.stderr and f"{b}:3 After=a.unit" in r.stderr
    assert state(daemon, "a.unit") == "inactive" and state(daemon, "b.unit") == "inactive"
    r = daemon.ctl("verify", a, check=False)
    assert r.returncode == 1
    assert f"{a}:4: After=b.unit: ordering cycle: a.unit -> b.unit -> a.unit " \
           f"({a}:4 After=b.unit, {b}:3 After=a.unit)" in r.stderr, r.stderr
    # Before= makes the same edge from the other file (c is pulled in by b)
    daemon.write_unit("b.unit", sleeper(layers, unit="Wants=c"))
    daemon.write_unit("c.unit", sleeper(layers, unit="After=a\nBefore=b"))
    r = daemon.ctl("verify", a, check=False)
    assert "ordering cycle: a.unit -> b.unit -> c.unit -> a.unit" in r.stderr, r.stderr


def test_verify_names_missing_units(daemon, layers):
    a = daemon.write_unit("a.unit", sleeper(layers, unit="Requires=gone\nWants=away\nAfter=nowhere"))
    r = daemon.ctl("verify", a, check=False)
    assert r.returncode == 1
    assert f"{a}:3: Requires=gone.unit: no unit file gone.unit" in r.stderr
    assert f"{a}:4: Wants=away.unit: warning: no unit file" in r.stderr
    assert "nowhere.unit" not in r.stderr  # ordering against a missing unit is fine
    # warnings alone pass
    daemon.write_unit("a.unit", sleeper(layers, unit="Wants=away"))
    assert daemon.ctl("verify", a).returncode == 0
    # bad names and self references are parse errors
    daemon.write_unit("a.unit", sleeper(layers, unit="Requires=a\nAfter=../x"))
    r = daemon.ctl("verify", a, check=False)
    assert "a.unit:3: Requires=a: a unit cannot depend on itself" in r.stderr
    assert "a.unit:4: After=../x: '../x' is not a unit name" in r.stderr
    r = daemon.ctl("start", "gone-parent", check=False)
    assert r.returncode != 0


def test_a_missing_required_unit_fails_the_start_clearly(daemon, layers):
    daemon.write_unit("app.unit", sleeper(layers, unit="Requires=gone\nWants=away"))
    r = daemon.ctl("start", "app", check=False)
    assert r.returncode != 0
    assert "app.unit:3: Requires=gone.unit: no such unit in the unit path" in r.stderr, r.stderr
    assert state(daemon, "app.unit") == "inactive"
    daemon.write_unit("app.unit", sleeper(layers, unit="Wants=away"))
    daemon.ctl("start", "app")  # a missing wanted unit is only logged
    assert state(daemon, "app.unit") == "active"
    assert "Wants=away.unit: no such unit" in daemon.output.read_text()


def test_binds_to_stops_with_the_unit_it_is_bound_to(daemon, layers):
    daemon.write_unit("db.unit", unit_text(layers, "/bin/sh -c 'exec sleep 1000'"))
    daemon.write_unit("app.unit", sleeper(layers, unit="BindsTo=db\nAfter=db"))
    daemon.write_unit("part.unit", sleeper(layers, unit="PartOf=db"))
    daemon.ctl("start", "app", "part")
    db_pid = int(daemon.show("db.unit")["MainPID"])
    import os
    import signal
    os.kill(db_pid, signal.SIGKILL)  # db ends on its own: no stop was asked
    daemon.wait_for("app.unit", lambda p: p["ActiveState"] == "inactive")
    assert "BindsTo=db.unit" in daemon.log("app.unit")
    assert state(daemon, "part.unit") == "active"  # PartOf= follows stops, not exits
    daemon.ctl("start", "db")
    daemon.ctl("stop", "db")
    assert state(daemon, "part.unit") == "inactive"


def test_conflicts_stops_the_other_unit_first(daemon, layers):
    daemon.write_unit("blue.unit", sleeper(layers))
    daemon.write_unit("green.unit", sleeper(layers, unit="Conflicts=blue"))
    daemon.ctl("start", "blue")
    daemon.ctl("start", "green")
    assert state(daemon, "blue.unit") == "inactive" and state(daemon, "green.unit") == "active"
    daemon.ctl("start", "blue")  # the relation holds from either side
    assert state(daemon, "green.unit") == "inactive" and state(daemon, "blue.unit") == "active"
    daemon.write_unit("both.unit", sleeper(layers, unit="Wants=blue green"))
    r = daemon.ctl("start", "both", check=False)
    assert r.returncode != 0 and "conflict" in r.stderr
    daemon.write_unit("bad.unit", sleeper(layers, unit="Requires=blue\nConflicts=blue"))
    r = daemon.ctl("verify", daemon.units / "bad.unit", check=False)
    assert "Requires=blue.unit: the unit also conflicts with it" in r.stderr


def test_on_failure_starts_the_named_unit(daemon, layers):
    daemon.write_unit("alarm.unit", sleeper(layers, text="alarm"))
    daemon.write_unit("job.unit", unit_text(layers, "/bin/sh -c 'exit 3'",
                                            unit="OnFailure=alarm"))
    daemon.ctl("start", "job")
    daemon.wait_for("job.unit", lambda p: p["ActiveState"] == "failed")
    daemon.wait_for("alarm.unit", lambda p: p["ActiveState"] == "active")
    daemon.write_unit("ok.unit", unit_text(layers, "/bin/true", unit="OnFailure=alarm"))
    daemon.ctl("stop", "alarm")
    daemon.ctl("start", "ok")
    daemon.wait_for("ok.unit", lambda p: p["ActiveState"] == "inactive")
    time.sleep(0.3)  # a wrong start of alarm would be queued by now; not a timing assertion
    assert state(daemon, "alarm.unit") == "inactive"


def test_list_dependencies_prints_the_tree(daemon, layers):
    daemon.write_unit("db.unit", sleeper(layers))
    daemon.write_unit("app.unit", sleeper(layers, unit="Requires=db\nAfter=db"))
    daemon.write_unit("web.unit", sleeper(layers, unit="Requires=app\nWants=cache gone"))
    daemon.write_unit("cache.unit", sleeper(layers, unit="Wants=web"))  # a cycle of wants
    daemon.ctl("start", "db")
    out = daemon.ctl("list-dependencies", "web").stdout
    assert out == ("web.unit (inactive)\n"
                   "\u251c\u2500app.unit (inactive, Requires)\n"
                   "\u2502 \u2514\u2500db.unit (active, Requires)\n"
                   "\u251c\u2500cache.unit (inactive, Wants)\n"
                   "\u2502 \u2514\u2500web.unit (inactive, Wants)\n"
                   "\u2514\u2500gone.unit (not-found, Wants)\n"), out


def test_list_dependencies_of_a_lattice_is_bounded(daemon, layers):
    """Units that each want the next two make 2^N paths: the tree is refused past 4096 rows,
    quickly, and sandboxd goes on answering."""
    for i in range(40):
        daemon.write_unit(f"l{i}.unit", sleeper(layers, unit=f"Wants=l{i + 1} l{i + 2}"))
    for i in (40, 41):
        daemon.write_unit(f"l{i}.unit", sleeper(layers))
    r = daemon.ctl("list-dependencies", "l0", check=False, timeout=60)
    assert r.returncode != 0 and "more than 4096 entries" in r.stderr, r.stderr
    assert daemon.ctl("list").returncode == 0
    r = daemon.ctl("list-dependencies", "l38")
    assert r.stdout.count("\n") == 5  # l38; l39 with l40 and l41 below it; l40


def test_sandboxd_stops_the_units_in_reverse_order_at_exit(daemon, layers):
    daemon.write_unit("db.unit", sleeper(layers))
    daemon.write_unit("app.unit", sleeper(layers, unit="Requires=db\nAfter=db"))
    daemon.write_unit("web.unit", sleeper(layers, unit="Requires=app\nAfter=app"))
    daemon.write_unit("solo.unit", sleeper(layers))
    daemon.ctl("start", "web", "solo")
    daemon.stop()  # SIGTERM without --keep-running: every sandbox is stopped first
    out = daemon.output.read_text()
    assert out.index("web.unit: Stopped") < out.index("app.unit: Stopped") < \
        out.index("db.unit: Stopped"), out
    assert "solo.unit: Stopped" in out
