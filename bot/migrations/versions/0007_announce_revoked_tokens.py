"""PostgreSQL announces revoked tokens itself, in the revoking transaction

A token revoked (`auth_token.revoked_at` set) or deleted (an erased account, an expired token
swept) sends a `revoked` event for its user on the instances' event channel
(`bot_events_<schema>`, as `bot.events.PostgresBus` listens), from a trigger: it leaves when
the change commits and only then, whoever made the change (any instance, an operator's SQL),
and a crash between the commit and an application's own announcement can no longer lose it.
Each open connection of that user then reads its token again (`bot.revocation`). Nothing on
SQLite, where one process serves everything and announces in-process.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The payload is what `bot.events.payloads` writes: a JSON list of [channel, event].
# Identical notifications in one transaction go out once: one event a user, however many tokens.
_FUNCTION = """
CREATE OR REPLACE FUNCTION bot_announce_revoked() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify(
        left('bot_events_' || TG_TABLE_SCHEMA, 63),
        json_build_array(json_build_array(
            'u:' || OLD.user_id, json_build_object('kind', 'revoked', 'user_id', OLD.user_id)
        ))::text
    );
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_FUNCTION)
    op.execute(
        "CREATE TRIGGER auth_token_revoked AFTER UPDATE OF revoked_at ON auth_token FOR EACH ROW "
        "WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL) EXECUTE FUNCTION bot_announce_revoked()"
    )
    op.execute(
        "CREATE TRIGGER auth_token_deleted AFTER DELETE ON auth_token FOR EACH ROW "
        "EXECUTE FUNCTION bot_announce_revoked()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS auth_token_deleted ON auth_token")
    op.execute("DROP TRIGGER IF EXISTS auth_token_revoked ON auth_token")
    op.execute("DROP FUNCTION IF EXISTS bot_announce_revoked()")
