"""external users, exchanged host tokens and the audit of data requests

`user` gains `kind` (`local` or `external`), `external_id` (the host site's `sub`) and
`traits`; `host_token_use` remembers host-site tokens already exchanged (replay protection);
`audit_event` records exports, erasures and password changes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="local"))
        batch_op.add_column(sa.Column("external_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("traits", sa.JSON(), nullable=True))
    op.create_table(
        "host_token_use",
        sa.Column("key", sa.String(length=128), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_host_token_use_user_id", "host_token_use", ["user_id"])
    op.create_index("ix_host_token_use_expires_at", "host_token_use", ["expires_at"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_index("ix_audit_event_actor_id", "audit_event", ["actor_id"])
    op.create_index("ix_audit_event_subject_id", "audit_event", ["subject_id"])


def downgrade() -> None:
    op.drop_table("audit_event")
    op.drop_table("host_token_use")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("traits")
        batch_op.drop_column("external_id")
        batch_op.drop_column("kind")
