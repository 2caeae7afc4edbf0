"""client ids are unique per session among user messages only

A turn with two replies (an answer to a digression, then the form's question) stores two
bot messages with the user's client id; the old constraint over (session, direction,
client id) refused that turn as a duplicate.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USER_MESSAGES = sa.text("direction = 'in'")


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint("uq_message_client_id", type_="unique")
        batch_op.create_index(
            "uq_message_in_client_id",
            ["session_id", "client_id"],
            unique=True,
            sqlite_where=_USER_MESSAGES,
            postgresql_where=_USER_MESSAGES,
        )


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index("uq_message_in_client_id")
        batch_op.create_unique_constraint("uq_message_client_id", ["session_id", "direction", "client_id"])
