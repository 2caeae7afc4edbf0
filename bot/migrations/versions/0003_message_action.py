"""the action a bot reply came from, room for agents' messages, a session's language

`message.action` holds the action call behind a reply (name, outcome, latency, slots it
changed); `message.direction` grows to five characters for `agent`; `chat_session.language`
is the language the session is answered in (a bot may speak several); `failures` counts
wrong answers to the pending question and `last_form` is the form finished last (what a
correction such as "actually, make it friday" changes).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action", sa.JSON(), nullable=True))
        batch_op.alter_column("direction", type_=sa.String(length=5), existing_type=sa.String(length=3))
    with op.batch_alter_table("chat_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_form", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_session", schema=None) as batch_op:
        batch_op.drop_column("last_form")
        batch_op.drop_column("failures")
        batch_op.drop_column("language")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.alter_column("direction", type_=sa.String(length=3), existing_type=sa.String(length=5))
        batch_op.drop_column("action")
