"""`python -m bot.admin`: operator commands (create users, migrate the database).

python -m bot.admin create-user NAME [--admin]      # asks for the password (needs a terminal)
python -m bot.admin create-user NAME --role agent   # a person who answers handed-over conversations
echo "$PASSWORD" | python -m bot.admin create-user NAME --admin --password-stdin
ADMIN_PASSWORD=... python -m bot.admin create-user NAME --admin --password-env ADMIN_PASSWORD
python -m bot.admin migrate                          # upgrade the schema (also done at start)
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from bot.auth import ROLES, RegistrationError, create_user
from bot.config import Settings
from bot.database import make_engine, migrate


class PasswordUnavailable(Exception):
    """No password could be read: no terminal to ask on, or an unset variable."""


def _password(args: argparse.Namespace, stdin: str | None) -> str:
    """The new user's password, asked for first, so a mistake costs no database work."""
    if args.password_stdin:
        return (stdin if stdin is not None else sys.stdin.read()).rstrip("\n")
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise PasswordUnavailable(f"the environment variable {args.password_env} is not set or empty")
        return value
    if not sys.stdin.isatty():
        raise PasswordUnavailable(
            "no terminal to ask for the password on: pipe it in with --password-stdin, "
            "or name an environment variable that holds it with --password-env VAR"
        )
    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != password:
        raise PasswordUnavailable("the passwords differ")
    return password


def main(argv: list[str] | None = None, *, stdin: str | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="create a user (the first admin, say)")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="give the admin role (same as --role admin)")
    create.add_argument("--role", choices=ROLES, default="user", help="user (default), agent or admin")
    source = create.add_mutually_exclusive_group()
    source.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    source.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    commands.add_parser("migrate", help="bring the database schema up to date")
    args = parser.parse_args(argv)

    password = None
    if args.command == "create-user":
        try:
            password = _password(args, stdin)
        except PasswordUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    migrate(engine)
    if password is None:
        print(f"database {engine.url.render_as_string()} is up to date")
        return 0
    try:
        user = create_user(engine, args.name, password, "admin" if args.admin else args.role)
    except RegistrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {user.role} {user.username}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
