"""Initial catalogue schema: titles, windows, presentations.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import catalogue.tables as ct

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "titles",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("eidr", sa.String(64)),
        sa.Column("name", sa.Text()),
        sa.Column("kind", sa.String(32)),
        sa.Column("run_length_seconds", sa.Integer()),
    )
    op.create_table(
        "windows",
        sa.Column("id", ct.BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "title_id",
            sa.String(200),
            sa.ForeignKey("titles.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("alid", sa.String(200), nullable=False),
        sa.Column("territory", sa.String(8), nullable=False),
        sa.Column("territories_excluded", ct.JSONType, nullable=False),
        sa.Column("license_type", sa.String(8), nullable=False),
        sa.Column("format_profile", sa.String(4), nullable=False),
        sa.Column("hdr", sa.Boolean(), nullable=False),
        sa.Column("starts_at", ct.UTCDateTime(), nullable=False),
        sa.Column("ends_at", ct.UTCDateTime()),
        sa.Column("tier", sa.String(64)),
        sa.Column("srp", ct.Money()),
        sa.Column("wsp", ct.Money()),
        sa.Column("currency", sa.String(3)),
        sa.Column("rental_duration_hours", sa.Integer()),
        sa.Column("watch_duration_hours", sa.Integer()),
        sa.Column("languages", ct.JSONType, nullable=False),
        sa.Column("source", sa.Text()),
        sa.UniqueConstraint(
            "alid",
            "territory",
            "license_type",
            "format_profile",
            "hdr",
            "starts_at",
            name="uq_windows_identity",
        ),  # fmt: skip
    )
    op.create_index(
        "ix_windows_territory_title", "windows", ["territory", "title_id", "starts_at", "ends_at"]
    )
    op.create_index("ix_windows_title_territory", "windows", ["title_id", "territory"])
    op.create_table(
        "presentations",
        sa.Column(
            "title_id",
            sa.String(200),
            sa.ForeignKey("titles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("manifests", ct.JSONType, nullable=False),
        sa.Column("renditions", ct.JSONType, nullable=False),
        sa.Column("kids", ct.JSONType, nullable=False),
        sa.Column("drm", ct.JSONType),
        sa.Column("duration", sa.Float()),
        sa.Column("max_height", sa.Integer()),
        sa.Column("updated_at", ct.UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("presentations")
    op.drop_index("ix_windows_title_territory", table_name="windows")
    op.drop_index("ix_windows_territory_title", table_name="windows")
    op.drop_table("windows")
    op.drop_table("titles")
