"""The catalogue schema as typed SQLAlchemy 2 ORM classes (SQLite and PostgreSQL).

Alembic migrations (catalogue/migrations) create it; this module is what the code queries and
what `alembic revision --autogenerate` compares against. Times are stored as UTC: `timestamptz`
on PostgreSQL, naive-UTC text on SQLite (which has no zone type), always aware in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeEngine


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive input is a bug, not 'probably UTC'."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} (times must carry a zone)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """numeric(12,4) on PostgreSQL; exact decimal text on SQLite (its numerics are floats)."""

    impl = Numeric(12, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(Numeric(12, 4))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(str(value))


class BlankMeansAny(TypeDecorator[str]):
    """None in Python, '' in the database: "any" as a value, so the window identity's unique
    constraint still holds for it (SQL NULLs never collide in a unique constraint)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str:
        return value or ""

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return value or None


JSONType = JSON().with_variant(JSONB(), "postgresql")
LANGUAGE_TAG_LENGTH = 35  # RFC 5646 4.4.1: a tag of up to 35 characters must be supported
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite only autoincrements INTEGER


class Base(DeclarativeBase):
    pass


class TitleRow(Base):
    """A title: the rights id space (content id) and the packaged title id are the same."""

    __tablename__ = "titles"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    eidr: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(String(32))
    run_length_seconds: Mapped[int | None] = mapped_column(Integer)

    windows: Mapped[list[WindowRow]] = relationship(back_populates="title", passive_deletes=True)
    presentation: Mapped[PresentationRow | None] = relationship(
        back_populates="title", passive_deletes=True
    )


class WindowRow(Base):
    """One licence: title x territory x licence type x format x language version over
    [starts_at, ends_at)."""

    __tablename__ = "windows"
    __table_args__ = (
        # AvailabilityWindow.key(): re-importing the same licence updates, never duplicates.
        UniqueConstraint(
            "alid",
            "territory",
            "license_type",
            "format_profile",
            "hdr",
            "language",
            "localization",
            "starts_at",
            name="uq_windows_identity",
        ),  # fmt: skip
        # Browse: one territory, titles in id order (keyset pages), open at a time.
        Index("ix_windows_territory_title", "territory", "title_id", "starts_at", "ends_at"),
        # Entitlement and title detail: one title's windows in one territory.
        Index("ix_windows_title_territory", "title_id", "territory"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"))
    alid: Mapped[str] = mapped_column(String(200))
    territory: Mapped[str] = mapped_column(String(8))
    territories_excluded: Mapped[list[str]] = mapped_column(JSONType, default=list)
    license_type: Mapped[str] = mapped_column(String(8))
    format_profile: Mapped[str] = mapped_column(String(4))
    hdr: Mapped[bool] = mapped_column(Boolean, default=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tier: Mapped[str | None] = mapped_column(String(64))
    srp: Mapped[Decimal | None] = mapped_column(Money)
    wsp: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    rental_duration_hours: Mapped[int | None] = mapped_column(Integer)
    watch_duration_hours: Mapped[int | None] = mapped_column(Integer)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # The licensed version (migration 0002): AssetLanguage and sub/dub; '' stored = any.
    language: Mapped[str | None] = mapped_column(
        BlankMeansAny(LANGUAGE_TAG_LENGTH), nullable=False, server_default=""
    )
    localization: Mapped[str | None] = mapped_column(
        BlankMeansAny(8), nullable=False, server_default=""
    )
    source: Mapped[str | None] = mapped_column(Text)

    title: Mapped[TitleRow] = relationship(back_populates="windows")


class PresentationRow(Base):
    """What packaging published for a title: manifest URLs, renditions, KIDs per key label."""

    __tablename__ = "presentations"

    title_id: Mapped[str] = mapped_column(
        ForeignKey("titles.id", ondelete="CASCADE"), primary_key=True
    )
    manifests: Mapped[dict[str, str]] = mapped_column(JSONType)  # protocol -> URL
    renditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    kids: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)  # label -> KID uuid
    drm: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # systems, scheme, licence URL
    duration: Mapped[float | None] = mapped_column(Float)
    max_height: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    title: Mapped[TitleRow] = relationship(back_populates="presentation")
