"""Windows keep their language version: AssetLanguage and sub/dub join the window identity.

Dub and sub rows of the same title, territory, licence type, format and start used to share one
identity, so a re-import kept only the last of them. Existing windows become "any language"
('' stored: SQL NULLs would never collide in the unique constraint). Downgrading fails on a
database holding two language versions of one licence rather than silently dropping one.

Revision ID: 0002_window_language
Revises: 0001_initial
Create Date: 2025-02-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import catalogue.tables as ct

revision: str = "0002_window_language"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_IDENTITY = ["alid", "territory", "license_type", "format_profile", "hdr", "starts_at"]
NEW_IDENTITY = [*OLD_IDENTITY[:-1], "language", "localization", "starts_at"]


def upgrade() -> None:
    # batch: SQLite cannot drop a constraint in place (the table is copied); PostgreSQL ALTERs.
    with op.batch_alter_table("windows") as batch:
        batch.add_column(
            sa.Column(
                "language",
                ct.BlankMeansAny(ct.LANGUAGE_TAG_LENGTH),
                nullable=False,
                server_default="",
            )
        )
        batch.add_column(
            sa.Column("localization", ct.BlankMeansAny(8), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_windows_identity", type_="unique")
        batch.create_unique_constraint("uq_windows_identity", NEW_IDENTITY)


def downgrade() -> None:
    with op.batch_alter_table("windows") as batch:
        batch.drop_constraint("uq_windows_identity", type_="unique")
        batch.create_unique_constraint("uq_windows_identity", OLD_IDENTITY)
        batch.drop_column("localization")
        batch.drop_column("language")
