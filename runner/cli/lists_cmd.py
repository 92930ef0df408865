"""``runner lists import | list | show | delete``: value lists for ``list`` exception entries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.cli.app import App, Commands
from runner.cli.output import positive_int, table
from runner.errors import UsageError


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    lists = commands.add_parser(
        "lists", help="value lists (used by `list` exception entries)", parents=[parent]
    )
    sub = lists.add_subparsers(dest="lists_command", required=True, metavar="COMMAND")

    imports = sub.add_parser(
        "import", help="create or replace a list from a file, one value a line", parents=[parent]
    )
    imports.add_argument("file", type=Path, metavar="FILE")
    imports.add_argument(
        "--type",
        required=True,
        metavar="TYPE",
        help="keyword, ip, ip_range, text, long, ... (Kibana's list types)",
    )
    imports.add_argument("--id", metavar="ID", help="list id (default: the file name)")
    imports.add_argument("--name", metavar="NAME")
    imports.add_argument("--description", default="", metavar="TEXT")
    imports.set_defaults(func=cmd_import)  # fmt: skip

    listing = sub.add_parser("list", help="every value list", parents=[parent])
    listing.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="a list and its values", parents=[parent])
    show.add_argument("list_id", metavar="ID")
    show.add_argument("--limit", type=positive_int, default=50, metavar="N")
    show.set_defaults(func=cmd_show)

    delete = sub.add_parser("delete", help="delete a list", parents=[parent])
    delete.add_argument("list_id", metavar="ID")
    delete.set_defaults(func=cmd_delete)


def cmd_import(args: argparse.Namespace, app: App) -> int:
    from runner.lists.imports import read_list_file
    from runner.lists.model import ValueListInfo

    read = read_list_file(args.file, args.type)
    for problem in read.problems:
        print(f"skipped {problem}", file=sys.stderr)
    list_id = args.id or args.file.name
    info = ValueListInfo(
        id=list_id, type=args.type, name=args.name or list_id, description=args.description
    )
    app.backend().put_list(info, read.values)
    unique = len(set(read.values))
    print(f"{list_id}: {unique} value(s) of type {args.type}, {len(read.problems)} skipped")
    return 1 if read.problems else 0


def cmd_list(args: argparse.Namespace, app: App) -> int:
    rows = [
        (i.id, i.type, i.size, i.name, i.description) for i in app.existing_backend().list_lists()
    ]
    table(["ID", "TYPE", "VALUES", "NAME", "DESCRIPTION"], rows, empty="(no value lists)")
    return 0


def cmd_show(args: argparse.Namespace, app: App) -> int:
    found = app.existing_backend().get_list(args.list_id)
    if found is None:
        raise UsageError(f"no value list {args.list_id!r} (see `runner lists list`)")
    info = found.info
    print(f"{info.id}  type {info.type}, {info.size} value(s)  {info.name}")
    if info.description:
        print(info.description)
    for value in found.values[: args.limit]:
        print(f"  {value}")
    if len(found.values) > args.limit:
        print(f"  ... {len(found.values) - args.limit} more (--limit)")
    return 0


def cmd_delete(args: argparse.Namespace, app: App) -> int:
    if not app.existing_backend().delete_list(args.list_id):
        raise UsageError(f"no value list {args.list_id!r} (see `runner lists list`)")
    print(f"deleted {args.list_id}")
    return 0
