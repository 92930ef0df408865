"""The seed rules' queries (../shared/seeds) on hand-made events: what fires and what does not."""

from __future__ import annotations

from typing import Any

from tests.embedded.conftest import Eql, Loader, at

EMOND = """
process where host.os.type == "macos" and event.type in ("start", "process_started") and
 process.parent.name : "emond" and
 process.name : (
   "bash", "dash", "sh", "tcsh", "csh", "zsh", "ksh", "fish", "Python", "python*", "perl*",
   "php*", "osascript", "pwsh", "curl", "wget", "cp", "mv", "touch", "echo", "base64",
   "launchctl")
"""

HIDDEN_LAUNCH_AGENT = """
file where host.os.type == "macos" and event.type != "deletion" and
  file.path :
  (
    "/System/Library/LaunchAgents/.*.plist",
    "/Library/LaunchAgents/.*.plist",
    "/Users/*/Library/LaunchAgents/.*.plist",
    "/System/Library/LaunchDaemons/.*.plist",
    "/Library/LaunchDaemons/.*.plist"
  )
"""

INSTALLER = (
    'sequence by host.id with maxspan=15s [process where host.os.type == "macos" and '
    'event.type == "start" and event.action == "exec" and process.parent.name : '
    '("installer", "package_script_service") and process.name : ("bash", "sh", "zsh", '
    '"python", "osascript", "tclsh*")] by process.entity_id [network where host.os.type == '
    '"macos" and event.type == "start" and process.name : ("curl", "osascript", "wget", '
    '"python", "java", "ruby", "node")] by process.parent.entity_id'
)

EXIM4 = (
    "host.os.type:linux and event.type:start and event.action:exec and "
    "process.parent.name:exim4 and not process.name:( exim4 or start-stop-daemon or run-parts "
    "or systemctl or update-exim4.conf or install or plymouth or readlink or grep or stat or "
    "cmake or gcc or cppcheck or sort or sshd )"
)


def proc(n: int, name: str, parent: str, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "n": n,
        "event": {"category": ["process"], "type": ["start"], "action": "exec"},
        "host": {"os": {"type": "macos"}, "id": "h1"},
        "process": {"name": name, "parent": {"name": parent}},
    }
    doc.update(extra)
    return doc


def test_emond_child_process(load: Loader, eql: Eql) -> None:
    load(
        [
            proc(1, "bash", "emond"),
            proc(2, "Python3.9", "emond"),  # "python*" is case-insensitive
            proc(3, "bash", "Emond"),  # ":" ignores case on the parent too
            proc(4, "ls", "emond"),  # not a listed child
            proc(5, "bash", "launchd"),
            proc(6, "bash", "emond", host={"os": {"type": "linux"}}),
            proc(7, "bash", "emond", event={"category": ["process"], "type": ["end"]}),
            proc(8, "sh", "emond", event={"category": ["process"], "type": ["info", "start"]}),
            proc(9, "bash", "emond", event={"category": ["file"], "type": ["start"]}),
            proc(10, "perl5.30", "emond", event={"category": "process", "type": "process_started"}),
        ]
    )
    assert eql(EMOND) == [1, 2, 3, 8, 10]


def test_hidden_launch_agent(load: Loader, eql: Eql) -> None:
    def file(n: int, path: str, types: list[str], os: str = "macos") -> dict[str, Any]:
        return {
            "n": n,
            "event": {"category": ["file"], "type": types},
            "host": {"os": {"type": os}},
            "file": {"path": path},
        }

    load(
        [
            file(1, "/Library/LaunchAgents/.evil.plist", ["creation"]),
            file(2, "/Users/alice/Library/LaunchAgents/.x.plist", ["change"]),
            file(3, "/Library/LaunchAgents/visible.plist", ["creation"]),  # not hidden
            file(4, "/Library/LaunchAgents/.evil.plist", ["deletion"]),
            file(5, "/library/launchagents/.EVIL.PLIST", ["creation"]),  # case-insensitive
            file(6, "/Library/LaunchAgents/.evil.plist", ["creation"], os="linux"),
            file(7, "/Users/a/b/Library/LaunchAgents/.x.plist", ["creation"]),  # * crosses /
            file(8, "/Library/LaunchDaemons/.d.plist", ["creation", "deletion"]),  # any value
            file(9, "/Library/LaunchAgents/.evil.plist.bak", ["creation"]),  # whole value
        ]
    )
    assert eql(HIDDEN_LAUNCH_AGENT) == [1, 2, 5, 7]


def test_installer_child_network_sequence(load: Loader, eql: Eql) -> None:
    def start(n: int, host: str, entity: str, parent: str = "installer") -> dict[str, Any]:
        return {
            "n": n,
            "@timestamp": at(n),
            "event": {"category": ["process"], "type": ["start"], "action": "exec"},
            "host": {"id": host, "os": {"type": "macos"}},
            "process": {"name": "bash", "entity_id": entity, "parent": {"name": parent}},
        }

    def connect(n: int, host: str, parent_entity: str, name: str = "curl") -> dict[str, Any]:
        return {
            "n": n,
            "@timestamp": at(n),
            "event": {"category": ["network"], "type": ["start"]},
            "host": {"id": host, "os": {"type": "macos"}},
            "process": {"name": name, "parent": {"entity_id": parent_entity}},
        }

    load(
        [
            start(1, "h1", "A"),
            connect(5, "h1", "A"),  # joins 1: same host, parent entity == A, within 15 s
            start(20, "h1", "B"),
            connect(36, "h1", "B"),  # 16 s later: beyond maxspan
            start(40, "h2", "C"),
            connect(41, "h3", "C"),  # other host
            start(50, "h1", "D", parent="launchd"),
            connect(51, "h1", "D"),  # first stage did not match
            start(60, "h1", "E"),
            connect(61, "h1", "F"),  # other entity
            connect(62, "h1", "E", name="Wget"),  # joins 60; ":" ignores case
        ]
    )
    assert eql(INSTALLER) == [[1, 5], [60, 62]]


def test_exim4_kql(load: Loader, kql: Eql) -> None:
    def run(n: int, name: str | None, parent: str = "exim4", os: str = "linux") -> dict[str, Any]:
        process: dict[str, Any] = {"parent": {"name": parent}}
        if name is not None:
            process["name"] = name
        return {
            "n": n,
            "event": {"type": ["start"], "action": "exec"},
            "host": {"os": {"type": os}},
            "process": process,
        }

    load(
        [
            run(1, "sh"),
            run(2, "exim4"),  # excluded child
            run(3, "sshd"),
            run(4, "Sort"),  # match is case-sensitive: "Sort" is not "sort"
            run(5, None),  # not ... matches a document without the field (DSL must_not)
            run(6, "sh", parent="Exim4"),  # parent match is case-sensitive too
            run(7, "sh", os="macos"),
            run(8, "update-exim4.conf"),
        ]
    )
    assert kql(EXIM4) == [1, 4, 5]
