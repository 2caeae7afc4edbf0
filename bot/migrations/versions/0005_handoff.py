"""human handoff: who holds a session, tickets left offline, agents online

`chat_session.mode` is `bot`, `waiting` (queued for a person), `agent` (held by
`agent_id`) or `ticket` (taking a message while no agent is online); `ticket` holds the
messages left for the team; `agent_presence` says which agents have the inbox open, on
any instance.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chat_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mode", sa.String(length=8), nullable=False, server_default="bot"))
        batch_op.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handoff_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("handoff_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ticket_email", sa.String(length=254), nullable=True))
        batch_op.create_index("ix_chat_session_mode", ["mode"])
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=32), sa.ForeignKey("chat_session.id"), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_created_at", "ticket", ["created_at"])
    op.create_table(
        "agent_presence",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("agent_presence")
    op.drop_index("ix_ticket_created_at", table_name="ticket")
    op.drop_table("ticket")
    with op.batch_alter_table("chat_session", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_session_mode")
        for column in ("ticket_email", "handoff_at", "handoff_reason", "agent_id", "mode"):
            batch_op.drop_column(column)
