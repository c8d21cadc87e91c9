"""scale: agent event batches queued for workers, and once-only event effects

Revision ID: 0011
Revises: 0002
Create Date: 2026-12-08 01:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "agent_event_batches",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("accepted", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("requeued", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_event_batches_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_event_batches")),
    )
    op.create_index(op.f("ix_agent_event_batches_agent_id"), "agent_event_batches", ["agent_id"], unique=False)
    op.create_index(
        "ix_agent_event_batches_status_updated", "agent_event_batches", ["status", "updated_at"], unique=False
    )
    op.create_table(
        "agent_event_effects",
        sa.Column("agent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("effect", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_agent_event_effects_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("agent_id", "key", "effect", name=op.f("pk_agent_event_effects")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("agent_event_effects")
    op.drop_index("ix_agent_event_batches_status_updated", table_name="agent_event_batches")
    op.drop_index(op.f("ix_agent_event_batches_agent_id"), table_name="agent_event_batches")
    op.drop_table("agent_event_batches")
