"""`python -m bot.admin`: operator commands (create users, migrate the database).

python -m bot.admin create-user NAME [--admin]      # asks for the password
python -m bot.admin create-user NAME --role agent   # a person who answers handed-over conversations
echo "$PASSWORD" | python -m bot.admin create-user NAME --admin --password-stdin
python -m bot.admin migrate                          # upgrade the schema (also done at start)
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.auth import ROLES, RegistrationError, create_user
from bot.config import Settings
from bot.store import make_engine, migrate


def main(argv: list[str] | None = None, *, stdin: str | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="create a user (the first admin, say)")
    create.add_argument("name")
    create.add_argument("--admin", action="store_true", help="give the admin role (same as --role admin)")
    create.add_argument("--role", choices=ROLES, default="user", help="user (default), agent or admin")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    commands.add_parser("migrate", help="bring the database schema up to date")
    args = parser.parse_args(argv)

    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    migrate(engine)
    if args.command == "migrate":
        print(f"database {engine.url.render_as_string()} is up to date")
        return 0
    if args.password_stdin:
        password = (stdin if stdin is not None else sys.stdin.read()).rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    try:
        user = create_user(engine, args.name, password, "admin" if args.admin else args.role)
    except RegistrationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"created {user.role} {user.username}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
