"""Catalogue reads and writes: idempotent rights import, presentations from packaging, browse.

Every function takes a Session and flushes; the caller owns the transaction (see
`catalogue.db.session_scope`). Territory and time rules come from `catalogue.entitlement`, so
browse and the playback decision never disagree about what is open where.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any, Literal

from sqlalchemy import and_, insert, or_, select, union
from sqlalchemy.orm import Session

from catalogue.entitlement import (
    PresentationInfo,
    Rendition,
    is_open_span,
    territory_applies,
    territory_codes,
)
from catalogue.model import (
    AvailabilityWindow,
    FormatProfile,
    LicenseType,
    Localization,
    PriceTerms,
    Title,
)
from catalogue.tables import PresentationRow, TitleRow, WindowRow
from catalogue.views import CatalogueEntry, Offer, PresentationView, TitleDetail, WindowView

__all__ = [  # the views are named through this module by the API, the CLI and subscribers
    "CatalogueEntry", "ImportCounts", "Offer", "PresentationView", "TitleDetail", "WindowView",
    "browse", "entitlement_inputs", "import_windows", "record_presentation", "title_detail",
]  # fmt: skip

CHUNK = 500  # keys per IN (...) lookup: well under SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class ImportCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.inserted} inserted, {self.updated} updated, {self.unchanged} unchanged"


# -- rights import -------------------------------------------------------------------------


def _row_key(r: WindowRow) -> tuple:
    """The stored window's `AvailabilityWindow.key()`, built from the row's columns."""
    return (r.alid, r.territory, r.license_type, r.format_profile, r.hdr, r.language or "",
            r.localization or "", r.starts_at.astimezone(UTC).isoformat())  # fmt: skip


def _window_values(w: AvailabilityWindow) -> dict[str, Any]:
    return {
        "title_id": w.title.content_id,
        "alid": w.title.alid,
        "territory": w.territory,
        "territories_excluded": sorted(set(w.territories_excluded)),
        "license_type": w.license_type.value,
        "format_profile": w.format_profile.value,
        "hdr": w.hdr,
        "starts_at": w.start.astimezone(UTC),
        "ends_at": w.end.astimezone(UTC) if w.end else None,
        "tier": w.price.tier,
        "srp": w.price.srp,
        "wsp": w.price.wsp,
        "currency": w.price.currency,
        "rental_duration_hours": w.rental_duration_hours,
        "watch_duration_hours": w.watch_duration_hours,
        "languages": list(w.languages),
        "language": w.language,
        "localization": w.localization.value if w.localization else None,
        "source": w.source,
    }


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _upsert_titles(session: Session, titles: Iterable[Title]) -> None:
    """Create missing titles; fill in metadata a later file knows (never blank it out)."""
    latest: dict[str, Title] = {t.content_id: t for t in titles}
    ids = list(latest)
    existing: dict[str, TitleRow] = {}
    for chunk in _chunks(ids):
        existing.update(
            {r.id: r for r in session.scalars(select(TitleRow).where(TitleRow.id.in_(chunk)))}
        )
    new_rows = []
    for tid, t in latest.items():
        fields = {"eidr": t.eidr, "name": t.name, "kind": t.kind,
                  "run_length_seconds": t.run_length_seconds}  # fmt: skip
        row = existing.get(tid)
        if row is None:
            new_rows.append({"id": tid, **fields})
            continue
        for k, v in fields.items():
            if v is not None and getattr(row, k) != v:
                setattr(row, k, v)
    if new_rows:
        session.execute(insert(TitleRow), new_rows)


def import_windows(session: Session, windows: Iterable[AvailabilityWindow]) -> ImportCounts:
    """Upsert windows by their identity (`AvailabilityWindow.key()`): importing the same file
    twice changes nothing and reports every window unchanged.

    A later duplicate in the same batch wins. Windows missing from a file are kept: Avails
    files are often deltas, so absence is not a withdrawal.
    """
    batch: dict[tuple, AvailabilityWindow] = {}
    for w in windows:
        batch[w.key()] = w
    if not batch:
        return ImportCounts()
    _upsert_titles(session, (w.title for w in batch.values()))

    alids = sorted({k[0] for k in batch})
    existing: dict[tuple, WindowRow] = {}
    for chunk in _chunks(alids):
        rows = session.scalars(select(WindowRow).where(WindowRow.alid.in_(chunk)))
        existing.update({_row_key(r): r for r in rows})

    inserts: list[dict[str, Any]] = []
    updated = unchanged = 0
    for key, w in batch.items():
        values = _window_values(w)
        row = existing.get(key)
        if row is None:
            inserts.append(values)
            continue
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}  # 3.99 == 3.9900
        for k, v in changed.items():
            setattr(row, k, v)
        updated += bool(changed)
        unchanged += not changed
    if inserts:
        session.execute(insert(WindowRow), inserts)
    session.flush()
    return ImportCounts(inserted=len(inserts), updated=updated, unchanged=unchanged)


def _to_window(r: WindowRow, title: TitleRow | None = None) -> AvailabilityWindow:
    t = title or r.title
    return AvailabilityWindow(
        title=Title(
            alid=r.alid,
            content_id=r.title_id,
            eidr=t.eidr if t else None,
            name=t.name if t else None,
        ),  # fmt: skip
        territory=r.territory,
        territories_excluded=list(r.territories_excluded or ()),
        license_type=LicenseType(r.license_type),
        format_profile=FormatProfile(r.format_profile),
        hdr=r.hdr,
        start=r.starts_at,
        end=r.ends_at,
        price=PriceTerms(tier=r.tier, srp=r.srp, wsp=r.wsp, currency=r.currency),
        rental_duration_hours=r.rental_duration_hours,
        watch_duration_hours=r.watch_duration_hours,
        languages=list(r.languages or ()),
        language=r.language,
        localization=Localization(r.localization) if r.localization else None,
        source=r.source,
    )


# -- presentations from packaging ----------------------------------------------------------

_RENDITION_FIELDS = ("id", "kind", "codecs", "width", "height", "frame_rate", "bandwidth",
                     "average_bandwidth", "language", "channels", "sample_rate", "uri")  # fmt: skip
_PROTOCOLS = ("hls", "dash")


def _manifest_url(base_url: str, title_id: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{title_id}/{PurePath(path).name}"


def record_presentation(
    session: Session, title_id: str, presentation_summary: dict[str, Any], base_url: str
) -> Literal["created", "updated", "unchanged"]:
    """Record what packaging published (`IngestResult.summary()`), after packaging succeeds.

    Manifest URLs are `base_url/<title_id>/<manifest file name>`. Creates the title when rights
    have not been imported yet. Content keys never reach the catalogue, only KIDs per label.
    """
    summary_id = presentation_summary.get("title_id")
    if summary_id is not None and summary_id != title_id:
        raise ValueError(f"summary is for title {summary_id!r}, not {title_id!r}")
    manifests = {
        p: _manifest_url(base_url, title_id, str(presentation_summary[p]))
        for p in _PROTOCOLS
        if presentation_summary.get(p)
    }
    if not manifests:
        raise ValueError("presentation summary names no manifest (hls or dash)")
    renditions = [
        {k: r[k] for k in _RENDITION_FIELDS if r.get(k) is not None}
        for r in presentation_summary.get("renditions", [])
    ]
    heights = [r["height"] for r in renditions if r.get("kind") == "video" and r.get("height")]
    drm = presentation_summary.get("drm") or None
    values: dict[str, Any] = {
        "manifests": manifests,
        "renditions": renditions,
        "kids": dict(drm.get("kids", {})) if drm else {},
        "drm": {k: v for k, v in drm.items() if k != "kids"} if drm else None,
        "duration": presentation_summary.get("duration"),
        "max_height": max(heights) if heights else None,
    }
    if session.get(TitleRow, title_id) is None:
        session.add(TitleRow(id=title_id))
        session.flush()
    row = session.get(PresentationRow, title_id)
    now = datetime.now(UTC)
    if row is None:
        session.add(PresentationRow(title_id=title_id, updated_at=now, **values))
        session.flush()
        return "created"
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if not changed:
        return "unchanged"
    for k, v in changed.items():
        setattr(row, k, v)
    row.updated_at = now
    session.flush()
    return "updated"


def _presentation_info(row: PresentationRow) -> PresentationInfo:
    return PresentationInfo(
        title_id=row.title_id,
        manifests=dict(row.manifests),
        renditions=[Rendition.model_validate(r) for r in row.renditions],
        kids=dict(row.kids or {}),
    )


# -- reads ---------------------------------------------------------------------------------


def _open_at(at: datetime) -> Any:
    return (WindowRow.starts_at <= at) & or_(WindowRow.ends_at.is_(None), WindowRow.ends_at > at)


# Offer field -> the column it comes from: one list for whole rows and column-only queries.
_OFFER_COLUMNS = {
    "license_type": WindowRow.license_type, "format_profile": WindowRow.format_profile,
    "hdr": WindowRow.hdr, "tier": WindowRow.tier, "srp": WindowRow.srp,
    "currency": WindowRow.currency, "start": WindowRow.starts_at, "end": WindowRow.ends_at,
    "language": WindowRow.language, "localization": WindowRow.localization,
}  # fmt: skip


def _offer(r: WindowRow) -> Offer:
    return Offer(**{name: getattr(r, column.key) for name, column in _OFFER_COLUMNS.items()})


def _next_title_ids(codes: list[str], at: datetime, after: str | None, n: int) -> Any:
    """The next `n` title ids open in any of `codes`, in id order.

    One ordered, limited index scan per territory code (ix_windows_territory_title), merged:
    a single `territory IN (...)` scan cannot use the index order, so it would read every
    later title of the territory before sorting.
    """
    parts = []
    for code in codes:
        q = select(WindowRow.title_id).where(WindowRow.territory == code, _open_at(at))
        if after is not None:
            q = q.where(WindowRow.title_id > after)
        parts.append(q.distinct().order_by(WindowRow.title_id).limit(n).subquery())
    merged = union(*(select(p.c.title_id) for p in parts)).subquery()
    return select(merged.c.title_id).order_by(merged.c.title_id).limit(n)


def browse(
    session: Session, territory: str, at: datetime, *, limit: int = 100, after: str | None = None
) -> list[CatalogueEntry]:
    """Titles with a window open in `territory` at `at`, in title id order.

    Keyset pages: pass the last `title_id` of a page as `after` for the next one.
    """
    codes = territory_codes(territory)
    entries: list[CatalogueEntry] = []
    cursor = after
    while len(entries) < limit:
        # Exclusions are checked in Python, so a batch may come up short: fetch the rest.
        batch = limit - len(entries)
        ids = list(session.scalars(_next_title_ids(codes, at, cursor, batch)))
        if not ids:
            break
        entries.extend(_entries(session, ids, territory, codes, at))
        cursor = ids[-1]
        if len(ids) < batch:
            break
    return entries[:limit]


def _entries(
    session: Session, ids: list[str], territory: str, codes: list[str], at: datetime
) -> list[CatalogueEntry]:
    """One query: the open windows of `ids` joined to their title and presentation height."""
    rows = session.execute(
        select(
            WindowRow.title_id,
            WindowRow.territory,
            WindowRow.territories_excluded,
            TitleRow.name,
            TitleRow.kind,
            PresentationRow.title_id,
            PresentationRow.max_height,
            *_OFFER_COLUMNS.values(),
        )  # fmt: skip
        .join(TitleRow, TitleRow.id == WindowRow.title_id)
        .outerjoin(PresentationRow, PresentationRow.title_id == WindowRow.title_id)
        .where(WindowRow.title_id.in_(ids), WindowRow.territory.in_(codes), _open_at(at))
        .order_by(
            WindowRow.title_id, WindowRow.license_type, WindowRow.starts_at, WindowRow.language
        )
    )
    entries: dict[str, CatalogueEntry] = {}
    for tid, terr, excluded, name, kind, packaged, height, *offer in rows:
        if not territory_applies(terr, excluded or (), territory):
            continue
        entry = entries.get(tid)
        if entry is None:
            entry = entries[tid] = CatalogueEntry(
                title_id=tid, name=name, kind=kind, offers=[], packaged=packaged is not None,
                max_height=height,
            )  # fmt: skip
        entry.offers.append(Offer(**dict(zip(_OFFER_COLUMNS, offer, strict=True))))
    return [entries[tid] for tid in ids if tid in entries]


def _title_and_presentation(
    session: Session, title_id: str
) -> tuple[TitleRow, PresentationRow | None] | None:
    """Both in one round trip; None when the title is unknown."""
    row = session.execute(
        select(TitleRow, PresentationRow)
        .outerjoin(PresentationRow, PresentationRow.title_id == TitleRow.id)
        .where(TitleRow.id == title_id)
    ).first()
    return None if row is None else (row[0], row[1])


def title_detail(
    session: Session, title_id: str, territory: str, at: datetime
) -> TitleDetail | None:
    """A title as seen from `territory` at `at`; None when the title is unknown."""
    head = _title_and_presentation(session, title_id)
    if head is None:
        return None
    title, pres = head
    rows = session.scalars(
        select(WindowRow)
        .where(WindowRow.title_id == title_id, WindowRow.territory.in_(territory_codes(territory)))
        .order_by(WindowRow.starts_at, WindowRow.license_type, WindowRow.language)
    )
    views = []
    for r in rows:
        if not territory_applies(r.territory, r.territories_excluded or (), territory):
            continue
        views.append(
            WindowView(
                **_offer(r).model_dump(),
                open=is_open_span(r.starts_at, r.ends_at, at),
                territory=r.territory,
                rental_duration_hours=r.rental_duration_hours,
                watch_duration_hours=r.watch_duration_hours,
                languages=list(r.languages or ()),
            )
        )
    return TitleDetail(
        title_id=title.id,
        name=title.name,
        kind=title.kind,
        eidr=title.eidr,
        run_length_seconds=title.run_length_seconds,
        territory=territory,
        at=at,
        available=any(v.open for v in views),
        windows=views,
        presentation=PresentationView(
            manifests=pres.manifests,
            renditions=pres.renditions,
            duration=pres.duration,
            drm=pres.drm,
            updated_at=pres.updated_at,
        )
        if pres
        else None,
    )


def entitlement_inputs(
    session: Session, title_id: str, territory: str
) -> tuple[list[AvailabilityWindow], PresentationInfo | None] | None:
    """What `entitlement.decide` needs for one title in one territory; None if unknown.

    One round trip: the title, its presentation and its windows here, outer-joined.
    """
    here = and_(
        WindowRow.title_id == TitleRow.id, WindowRow.territory.in_(territory_codes(territory))
    )
    rows = session.execute(
        select(TitleRow, PresentationRow, WindowRow)
        .select_from(TitleRow)
        .outerjoin(PresentationRow, PresentationRow.title_id == TitleRow.id)
        .outerjoin(WindowRow, here)
        .where(TitleRow.id == title_id)
    ).all()
    if not rows:
        return None
    title, pres = rows[0][0], rows[0][1]
    windows = [_to_window(w, title) for _, _, w in rows if w is not None]
    return windows, _presentation_info(pres) if pres else None
