"""Reload planning (what to add, remove, reschedule) and the directory watcher."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from runner.daemon.reload import DirectoryWatcher, effective_interval, plan_reload
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from tests.helpers import RULE_TOML, write_rule


def rules_of(folder: Path) -> dict[str, Rule]:
    return {rule.rule_id: rule for rule in load_rules([folder]).rules}


def with_interval(folder: Path, stem: str, interval: str, query: str = "") -> None:
    text = RULE_TOML.format(
        name=stem, rule_id=f"id-{stem}", query=query or 'process where process.name == "bash"'
    ).replace('from = "now-9m"', f'from = "now-9m"\ninterval = "{interval}"')
    write_rule(folder, stem, text=text)


def test_first_load_adds_every_enabled_rule(tmp_path: Path) -> None:
    write_rule(tmp_path, "a")
    write_rule(tmp_path, "b")
    plan = plan_reload({}, load_rules([tmp_path]))
    assert plan.added == ("id-a", "id-b") and not plan.removed and not plan.errors


def test_changes_removals_additions_and_new_intervals(tmp_path: Path) -> None:
    with_interval(tmp_path, "a", "5m")
    with_interval(tmp_path, "b", "5m")
    write_rule(tmp_path, "c")
    previous = rules_of(tmp_path)
    with_interval(tmp_path, "a", "1m")  # rescheduled
    with_interval(tmp_path, "b", "5m", query='process where process.name == "sh"')  # changed
    (tmp_path / "c.toml").unlink()  # removed
    write_rule(tmp_path, "d")  # added
    plan = plan_reload(previous, load_rules([tmp_path]))
    assert plan.added == ("id-d",) and plan.removed == ("id-c",)
    assert plan.changed == ("id-a", "id-b") and plan.rescheduled == ("id-a",)
    assert set(plan.rules) == {"id-a", "id-b", "id-d"}


def test_a_rule_that_fails_to_load_keeps_its_previous_version(tmp_path: Path) -> None:
    write_rule(tmp_path, "a")
    write_rule(tmp_path, "b")
    previous = rules_of(tmp_path)
    write_rule(tmp_path, "a", query="process where process.name = 'broken'")
    (tmp_path / "new.toml").write_text("not toml [")
    plan = plan_reload(previous, load_rules([tmp_path]))
    assert plan.rules["id-a"] is previous["id-a"]
    assert not plan.removed and not plan.changed and not plan.added
    assert [e.path for e in plan.kept] == [str(tmp_path / "a.toml")]
    assert len(plan.errors) == 2  # the new broken file is reported, not kept (nothing to keep)


def test_disabling_a_rule_stops_it(tmp_path: Path) -> None:
    write_rule(tmp_path, "a")
    previous = rules_of(tmp_path)
    path = tmp_path / "a.toml"
    path.write_text(path.read_text().replace('type = "eql"', 'type = "eql"\nenabled = false'))
    plan = plan_reload(previous, load_rules([tmp_path]))
    assert plan.removed == ("id-a",) and not plan.rules


def test_names_select_a_subset_and_unknown_names_are_reported(tmp_path: Path) -> None:
    write_rule(tmp_path, "alpha")
    write_rule(tmp_path, "beta")
    plan = plan_reload({}, load_rules([tmp_path]), names=["alpha", "gamma"])
    assert list(plan.rules) == ["id-alpha"]
    assert len(plan.unresolved) == 1 and "gamma" in plan.unresolved[0]


def test_an_interval_override_means_no_reschedule(tmp_path: Path) -> None:
    with_interval(tmp_path, "a", "5m")
    previous = rules_of(tmp_path)
    with_interval(tmp_path, "a", "1m")
    plan = plan_reload(previous, load_rules([tmp_path]), interval=timedelta(seconds=2))
    assert plan.changed == ("id-a",) and plan.rescheduled == ()
    assert effective_interval(plan.rules["id-a"], timedelta(seconds=2)) == timedelta(seconds=2)
    assert effective_interval(plan.rules["id-a"], timedelta(milliseconds=10)) == timedelta(
        seconds=1
    )


def test_watcher_sees_edits_additions_and_removals(tmp_path: Path) -> None:
    path = write_rule(tmp_path, "a")
    watcher = DirectoryWatcher([tmp_path])
    assert not watcher.changed()
    stat = path.stat()
    path.write_text(path.read_text() + "\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert watcher.changed() and not watcher.changed()
    write_rule(tmp_path, "b")
    assert watcher.changed()
    path.unlink()
    assert watcher.changed()
    (tmp_path / "notes.txt").write_text("not a rule")
    assert not watcher.changed()
