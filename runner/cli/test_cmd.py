"""``runner test [RULE...]``: run the rules' detection test cases."""

from __future__ import annotations

import argparse
from pathlib import Path

from runner.cli.app import App, Commands
from runner.cli.output import shorten, table


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    test = commands.add_parser(
        "test",
        help="run rule test cases (tests/rules/<rule>/) in throwaway stores",
        parents=[parent],
    )
    test.add_argument("rule_names", nargs="*", metavar="RULE", help="rules to test (default: all)")
    test.add_argument(
        "--cases",
        type=Path,
        default=Path("tests/rules"),
        metavar="DIR",
        help="folder holding one sub-folder of cases per rule file stem (default: tests/rules)",
    )
    test.set_defaults(func=cmd_test)


def cmd_test(args: argparse.Namespace, app: App) -> int:
    from runner.ruletest import discover_cases, run_case

    rules = app.select(args.rule_names) if args.rule_names else list(app.rule_set().rules)
    cases = discover_cases(args.cases, rules)
    if not cases:
        print(f"no test cases found under {args.cases} for {len(rules)} rule(s)")
        return 1 if args.rule_names else 0
    results = [run_case(case) for case in cases]
    rows = [
        (
            r.case.rule.stem,
            shorten(r.case.name, 50),
            "pass" if r.passed else "FAIL",
            shorten("; ".join(r.problems), 80),
        )
        for r in results
    ]
    table(("rule", "case", "result", "details"), rows)
    failed = sum(1 for r in results if not r.passed)
    print(f"\n{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0
