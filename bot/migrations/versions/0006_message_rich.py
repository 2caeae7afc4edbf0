"""a bot message's image and link card

`message.rich` holds what a reply showed besides its text and buttons, as JSON:
`{"image": {"url", "alt"}, "link": {"url", "title", "description"}}` (either may be
missing; NULL when the message had neither), so the history and a user's data export show
them again after a reload.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rich", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("rich")
