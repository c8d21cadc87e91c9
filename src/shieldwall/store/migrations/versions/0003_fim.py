"""fim change windows

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-07 22:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "fim_change_windows",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("environment", sa.String(length=128), nullable=False),
        sa.Column("host_glob", sa.String(length=256), nullable=False),
        sa.Column("path_glob", sa.String(length=1024), nullable=False),
        sa.Column("deploy_id", sa.String(length=256), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_fim_change_windows_env_end", "fim_change_windows", ["environment", "ends_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_fim_change_windows_env_end", table_name="fim_change_windows")
    op.drop_table("fim_change_windows")
