"""scale: idempotent scan recording and distributed task runs (dead letters)

Revision ID: 0008
Revises: 0001
Create Date: 2026-12-07 22:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "scan_idempotency",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("asset_digest", sa.String(length=160), nullable=False),
        sa.Column("request", sa.String(length=256), nullable=False),
        sa.Column("scan_id", sa.BigInteger(), nullable=True),
        sa.Column("asset_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_scan_idempotency")),
    )
    op.create_table(
        "task_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=256), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_runs")),
    )
    op.create_index("ix_task_runs_status_updated", "task_runs", ["status", "updated_at"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_task_runs_status_updated", table_name="task_runs")
    op.drop_table("task_runs")
    op.drop_table("scan_idempotency")
