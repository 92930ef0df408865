from pathlib import Path

import pytest

from runner.eql.ast import SequenceQuery
from runner.errors import RuleSelectionError
from runner.rules.loader import load_rule_file, load_rules
from runner.rules.select import resolve_rule, resolve_rules
from tests.conftest import SEED_RULES, seeds_dir
from tests.helpers import RULE_TOML, write_rule

SEEDS = {
    "emond_child_process": ("3e3d15c6-1509-479a-b125-21718372157e", "eql", "event.ingested"),
    "hidden_launch_agent_daemon": ("092b068f-84ac-485d-8a55-7dd9e006715f", "eql", "event.ingested"),
    "installer_package_network": ("99239e7d-b0d4-46e3-8609-acafcf99f68c", "eql", None),
    "exim4_child_process": ("6eb862bb-013d-4d4f-a14b-341433ca1a1f", "new_terms", "event.ingested"),
}
# Public ES|QL rules shipped beside the seeds for their `runner test` cases (issue #13).
ESQL_RULES = {
    "exfiltration_ecr_repository_policy_granted_public_access",
    "impact_bedrock_api_key_destructive_action",
    "execution_potential_widespread_malware_infection",
}


def test_seed_rules_load_with_the_fields_the_issue_fixes() -> None:
    rule_set = load_rules([SEED_RULES])
    assert rule_set.errors == ()
    by_stem = {r.stem: r for r in rule_set.rules}
    assert set(by_stem) == set(SEEDS) | ESQL_RULES | {
        "impact_process_kill_threshold",
        "threat_intel_indicator_match_hash",
    }
    assert all(by_stem[stem].type == "esql" for stem in ESQL_RULES)
    assert by_stem["impact_process_kill_threshold"].type == "threshold"
    assert by_stem["threat_intel_indicator_match_hash"].type == "threat_match"
    for stem, (rule_id, rule_type, override) in SEEDS.items():
        rule = by_stem[stem]
        assert (rule.rule_id, rule.type, rule.timestamp_override) == (rule_id, rule_type, override)
        assert (rule.from_, rule.interval, rule.max_signals) == ("now-9m", "5m", 100)
        assert rule.author == ("Elastic",) and rule.license == "Elastic License v2"
        assert rule.threat, stem
    assert by_stem["installer_package_network"].index == (
        "logs-endpoint.events.network*",
        "logs-endpoint.events.process*",
    )
    assert isinstance(by_stem["installer_package_network"].eql.body, SequenceQuery)
    exim = by_stem["exim4_child_process"]
    assert exim.language == "kuery"
    assert exim.new_terms is not None
    assert exim.new_terms.fields == ("process.executable",)
    assert exim.new_terms.history_window_start == "now-14d"
    emond = by_stem["emond_child_process"]
    techniques = {t.entry.id for threat in emond.threat for t in threat.techniques}
    subs = {s.id for threat in emond.threat for t in threat.techniques for s in t.subtechniques}
    assert techniques == {"T1546"} and subs == {"T1546.014"}
    assert emond.threat[0].tactic.id == "TA0003"


def _seed_query(page: str) -> str:
    """The query text at the end of a seed page (after its 'Rule query' or setup section)."""
    folder = seeds_dir()
    assert folder is not None
    lines = (folder / page).read_text().splitlines()
    start = next(
        i
        for i, line in enumerate(lines)
        if line.startswith(("process where", "file where", "editsequence", "edithost.os"))
    )
    end = next(i for i, line in enumerate(lines) if line.startswith("Framework"))
    return "\n".join(lines[start:end]).removeprefix("edit").strip()


@pytest.mark.reference
def test_seed_queries_are_verbatim_copies_of_the_seed_pages() -> None:
    if seeds_dir() is None:
        pytest.skip("../shared/seeds is not present in this checkout")
    pages = {
        "emond_child_process": "000_a1bea6b34f53de3f.txt",
        "hidden_launch_agent_daemon": "001_c8f41909317a80a0.txt",
        "installer_package_network": "003_03b0102343860640.txt",
        "exim4_child_process": "004_e1daa9fdea3cef33.txt",
    }
    by_stem = {r.stem: r for r in load_rules([SEED_RULES]).rules}
    for stem, page in pages.items():
        assert by_stem[stem].query.strip() == _seed_query(page), stem


def test_every_error_of_every_file_is_reported_in_one_pass(tmp_path: Path) -> None:
    write_rule(tmp_path, "good")
    bad = RULE_TOML.format(name="Bad", rule_id="id-bad", query="process where").replace(
        "risk_score = 47", 'risk_score = "high"'
    )
    bad = bad.replace('severity = "medium"', 'severity = "urgent"').replace(
        'from = "now-9m"', 'from = "yesterday"'
    )
    write_rule(tmp_path, "bad", text=bad)
    (tmp_path / "broken.toml").write_text("[rule\nname = 1\n")
    rule_set = load_rules([tmp_path])
    assert [r.stem for r in rule_set.rules] == ["good"]
    by_key = {(Path(e.path).name, e.key) for e in rule_set.errors}
    assert ("bad.toml", "rule.risk_score") in by_key
    assert ("bad.toml", "rule.severity") in by_key
    assert ("bad.toml", "rule.from") in by_key
    assert ("bad.toml", "rule.query") in by_key
    assert ("broken.toml", None) in by_key
    toml_error = next(e for e in rule_set.errors if e.path.endswith("broken.toml"))
    assert "line 1" in toml_error.message


def test_query_error_has_position_and_caret(tmp_path: Path) -> None:
    path = write_rule(tmp_path, "q", query='process where\n  process.name == "a" and and')
    rule, errors = load_rule_file(path)
    assert rule is None and len(errors) == 1
    error = errors[0]
    assert error.key == "rule.query" and error.query_error is not None
    assert error.query_error.line == 2
    pretty = error.pretty()
    assert str(path) in pretty and "line 2, column" in pretty
    caret_line = pretty.splitlines()[-1]
    assert caret_line.strip() == "^"


def test_missing_required_keys_are_named(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text('[rule]\nname = "x"\ntype = "eql"\n')
    _, errors = load_rule_file(tmp_path / "r.toml")
    assert {e.key for e in errors} == {"rule.rule_id"}
    (tmp_path / "s.toml").write_text('[rule]\nname = "x"\ntype = "eql"\nrule_id = "1"\n')
    _, errors = load_rule_file(tmp_path / "s.toml")
    assert {e.key for e in errors} >= {
        "rule.query",
        "rule.risk_score",
        "rule.severity",
        "rule.index",
    }


@pytest.mark.parametrize(
    ("rule_type", "language", "reason"),
    [
        ("saved_query", "kuery", "rule type 'saved_query' is not supported"),
        ("query", "lucene", "query rules in language 'lucene' are not supported"),
    ],
)
def test_unsupported_types_load_as_unsupported_not_failed(
    tmp_path: Path, rule_type: str, language: str | None, reason: str
) -> None:
    lang = f'language = "{language}"\n' if language else ""
    (tmp_path / "u.toml").write_text(
        f'[rule]\nname = "U"\nrule_id = "u1"\ntype = "{rule_type}"\n{lang}query = "from x"\n'
    )
    rule_set = load_rules([tmp_path])
    assert rule_set.errors == () and rule_set.rules == ()
    assert len(rule_set.unsupported) == 1
    assert reason in rule_set.unsupported[0].reason


def test_esql_rule_loads_without_index(tmp_path: Path) -> None:
    (tmp_path / "e.toml").write_text(
        '[rule]\nname = "E"\nrule_id = "e1"\ntype = "esql"\nlanguage = "esql"\n'
        'description = "d"\nrisk_score = 21\nseverity = "low"\n'
        'query = """FROM logs-* METADATA _id | WHERE process.name == "x" | COMPLETION r = p '
        'WITH {\\"inference_id\\": \\"e\\"}"""\n'
    )
    rule_set = load_rules([tmp_path])
    assert rule_set.errors == ()
    (rule,) = rule_set.rules
    assert rule.type == "esql" and rule.language == "esql" and rule.index == ()
    assert rule.esql.keeps_id
    assert rule.cluster_only == ("COMPLETION needs an inference endpoint",)


def test_esql_syntax_error_names_file_key_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "e.toml").write_text(
        '[rule]\nname = "E"\nrule_id = "e1"\ntype = "esql"\nlanguage = "esql"\n'
        'description = "d"\nrisk_score = 21\nseverity = "low"\n'
        'query = """FROM logs-*\n| WHERE a ==\n| LIMIT 1"""\n'
    )
    rule_set = load_rules([tmp_path])
    (error,) = rule_set.errors
    assert "e.toml: rule.query: line 3, column 1: esql syntax error" in error.message
    assert error.pretty().endswith("| LIMIT 1\n    ^")


def test_unknown_keys_are_kept(tmp_path: Path) -> None:
    text = RULE_TOML.format(name="X", rule_id="x1", query="any where true").replace(
        "[rule]\n", '[rule]\nfuture_option = "kept"\nrequired_fields = [{name = "a"}]\n'
    )
    rule, errors = load_rule_file(write_rule(tmp_path, "x", text=text))
    assert errors == [] and rule is not None
    assert rule.extra["future_option"] == "kept"
    assert rule.extra["required_fields"] == [{"name": "a"}]


def test_new_terms_validation(tmp_path: Path) -> None:
    text = (
        '[rule]\nname = "NT"\nrule_id = "nt"\ntype = "new_terms"\nlanguage = "kuery"\n'
        'query = "a:b"\nindex = ["x"]\nrisk_score = 1\nseverity = "low"\ndescription = "d"\n'
        'from = "now-9m"\n[rule.new_terms]\nfield = "new_terms_fields"\n'
        'value = ["a", "b", "c", "d"]\n[[rule.new_terms.history_window_start]]\n'
        'field = "history_window_start"\nvalue = "now-5m"\n'
    )
    _, errors = load_rule_file(write_rule(tmp_path, "nt", text=text))
    messages = {e.key: e.reason for e in errors}
    assert "1 to 3" in messages["rule.new_terms.value"]
    assert "earlier than from" in messages["rule.new_terms.history_window_start"]


def test_duplicate_rule_id_is_an_error(tmp_path: Path) -> None:
    write_rule(tmp_path, "a", rule_id="same")
    write_rule(tmp_path, "b", rule_id="same")
    rule_set = load_rules([tmp_path])
    assert len(rule_set.rules) == 1
    assert "duplicate rule_id" in rule_set.errors[0].message


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("emond", "emond_child_process"),
        ("hidden", "hidden_launch_agent_daemon"),
        ("installer", "installer_package_network"),
        ("exim4", "exim4_child_process"),
        ("EXIM4", "exim4_child_process"),
        ("3e3d15c6-1509-479a-b125-21718372157e", "emond_child_process"),
        ("hidden_launch_agent_daemon", "hidden_launch_agent_daemon"),
        ("Unusual Exim4", "exim4_child_process"),
    ],
)
def test_rule_resolution(name: str, stem: str) -> None:
    rules = load_rules([SEED_RULES]).rules
    assert resolve_rule(rules, name).stem == stem


def test_ambiguous_and_unknown_names_list_candidates() -> None:
    rules = load_rules([SEED_RULES]).rules
    with pytest.raises(RuleSelectionError) as caught:
        resolve_rule(rules, "process")  # emond and exim4 both say "Child Process"
    assert "emond_child_process" in str(caught.value)
    assert "exim4_child_process" in str(caught.value)
    with pytest.raises(RuleSelectionError, match="no rule matches"):
        resolve_rule(rules, "kerberoast")
    assert [r.stem for r in resolve_rules(rules, ["emond", "emond_child_process"])] == [
        "emond_child_process"
    ]
