"""ips: virtual-patching recommendations and IPS events

Revision ID: 0006
Revises: 0001
Create Date: 2026-12-07 22:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ips_recommendations",
        sa.Column("id", _ID, nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("finding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("cve", sa.String(length=32), nullable=False),
        sa.Column("sid", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("msg", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("assigned", sa.Boolean(), nullable=False),
        sa.Column("assigned_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("finding_id", "sid"),
    )
    op.create_index("ix_ips_recommendations_asset", "ips_recommendations", ["asset_id", "assigned"])
    op.create_index("ix_ips_recommendations_finding_id", "ips_recommendations", ["finding_id"])
    op.create_table(
        "ips_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sid", sa.BigInteger(), nullable=False),
        sa.Column("msg", sa.Text(), nullable=False),
        sa.Column("cves", sa.Text(), nullable=False),
        sa.Column("src", sa.String(length=80), nullable=False),
        sa.Column("dest", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_ips_events_asset_time", "ips_events", ["asset_id", "observed_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_ips_events_asset_time", table_name="ips_events")
    op.drop_table("ips_events")
    op.drop_index("ix_ips_recommendations_finding_id", table_name="ips_recommendations")
    op.drop_index("ix_ips_recommendations_asset", table_name="ips_recommendations")
    op.drop_table("ips_recommendations")
