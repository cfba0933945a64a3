"""``dance-tutor users``: the studio's teachers and learners: add, list, delete, new password."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from app.db.models import ROLES
from app.errors import UserError

PASSWORD_FROM_STDIN = "-"


def database_argument(parser: argparse.ArgumentParser) -> None:
    """``--database URL``, shared by every action."""
    parser.add_argument(
        "--database", metavar="URL", default=None,
        help="the tutor's database: sqlite:///FILE or postgresql://user:password@host:port/db "
             "(default: $DANCE_TUTOR_DATABASE_URL, else tutor.db in the state folder, "
             "~/.local/state/dance-tutor)")


def password_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-file", metavar="FILE", default=None,
        help="read the password from the first line of FILE ('-': from standard input) "
             "instead of asking twice")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "users", help="add, list and delete teachers and learners; reset passwords",
        description=(
            "Manage who logs in to a studio's tutor. Teachers see the class and manage "
            "learners; learners practise and see their own progress. Passwords are stored "
            "only as Argon2id hashes and are never printed. Without any account the tutor "
            "is a home tutor: nobody logs in."),
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser(
        "add", help="add a teacher or a learner",
        description="Add an account. Without --password-file the password is asked twice "
                    "(not shown while typed).")
    p.add_argument("name", metavar="NAME",
                   help="1 to 64 lowercase letters, digits, dots, dashes or underscores")
    p.add_argument("--role", choices=ROLES, required=True,
                   help="teacher (sees the class, manages learners) or learner")
    password_argument(p)
    database_argument(p)
    p.set_defaults(handler=run_add)

    p = sub.add_parser("list", help="list the accounts: teachers first, then learners",
                       description="List every account that logs in, with its role.")
    database_argument(p)
    p.set_defaults(handler=run_list)

    p = sub.add_parser(
        "delete", help="delete an account with all its practices",
        description="Delete an account, its practices and its logins. Asks first unless "
                    "--yes is given.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    database_argument(p)
    p.set_defaults(handler=run_delete)

    p = sub.add_parser(
        "password", help="set a new password for an account (its logins end)",
        description="Reset an account's password; every browser logged in as it is logged "
                    "out. Without --password-file the password is asked twice.")
    p.add_argument("name", metavar="NAME")
    password_argument(p)
    database_argument(p)
    p.set_defaults(handler=run_password)


def open_database(args: argparse.Namespace) -> Any:
    """The database of ``--database``, else of ``$DANCE_TUTOR_DATABASE_URL``."""
    from app.db import engine

    return engine.open_database(args.database or os.environ.get(engine.URL_ENV))


def read_password(args: argparse.Namespace) -> str:
    """The password from ``--password-file`` (its first line), else asked twice.

    Raises
    ------
    UserError
        When the file cannot be read or is empty, or the two typed passwords differ.
    """
    from app.accounts import check_password

    given: str | None = args.password_file
    if given == PASSWORD_FROM_STDIN:
        return check_password(_first_line(sys.stdin.readline(), "standard input"))
    if given is not None:
        try:
            with Path(given).open(encoding="utf-8") as file:
                line = file.readline()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
            raise UserError(f"the password file {given} cannot be read ({reason})") from None
        return check_password(_first_line(line, f"the password file {given}"))
    password = getpass.getpass(f"Password for {args.name}: ")
    check_password(password)
    if getpass.getpass("The same password again: ") != password:
        raise UserError("the two passwords differ; nothing was changed")
    return password


def _first_line(line: str, origin: str) -> str:
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise UserError(f"{origin} has no password on its first line")
    return password


def run_add(args: argparse.Namespace) -> int:
    from app.accounts import add_user, check_name, find_user

    check_name(args.name)
    db = open_database(args)
    try:
        if find_user(db, args.name) is not None:
            raise UserError(f"there is already a user named {args.name!r}")
        account = add_user(db, args.name, args.role, read_password(args))
    finally:
        db.close()
    print(f"added the {account.role} {account.name}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from app.accounts import list_users

    db = open_database(args)
    try:
        accounts = list_users(db)
    finally:
        db.close()
    if not accounts:
        print("no accounts: this is a home tutor, nobody logs in "
              "(add one with 'dance-tutor users add NAME --role teacher')")
        return 0
    width = max(len("name"), *(len(account.name) for account in accounts))
    print(f"{'name'.ljust(width)}  role")
    for account in accounts:
        print(f"{account.name.ljust(width)}  {account.role}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from app.accounts import delete_user, find_user

    db = open_database(args)
    try:
        account = find_user(db, args.name)
        if account is None:
            raise UserError(f"there is no user named {args.name!r}")
        if not args.yes and not _confirmed(f"Delete the {account.role} {account.name} with "
                                           "all their practices and logins? [y/N] "):
            print(f"kept {account.name}: nothing was deleted")
            return 1
        practices = delete_user(db, args.name)
    finally:
        db.close()
    print(f"deleted the {account.role} {account.name} and their "
          f"{practices} practice{'' if practices == 1 else 's'}")
    return 0


def _confirmed(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run_password(args: argparse.Namespace) -> int:
    from app.accounts import find_user, set_password

    db = open_database(args)
    try:
        if find_user(db, args.name) is None:
            raise UserError(f"there is no user named {args.name!r}")
        password = read_password(args)
        set_password(db, args.name, password)
    finally:
        db.close()
    print(f"set a new password for {args.name}; their logins have ended")
    return 0
