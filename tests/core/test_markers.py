"""tests/support/markers.py: the markers a test earns from its fixtures and parameters."""

from __future__ import annotations

from tests.support.markers import markers_for


def test_chromium_fixtures_mark_browser() -> None:
    assert markers_for({"browser", "tmp_path"}, {}) == {"browser"}
    assert markers_for({"page", "chromium_page"}, {}) == {"browser"}


def test_a_real_ingest_marks_slow() -> None:
    assert markers_for({"encrypted_origin", "sample_mov"}, {}) == {"slow"}
    assert markers_for({"sample_title"}, {}) == {"slow"}
    assert markers_for({"media_factory", "sample_mov"}, {}) == set()  # cheap cached sources


def test_services_from_fixtures_or_a_postgresql_backend_of_any_fixture() -> None:
    assert markers_for({"redis_service"}, {}) == {"services"}
    assert markers_for({"database_url"}, {"database_url": "postgresql"}) == {"services"}
    assert markers_for({"ww_client"}, {"ww_client": "postgresql", "n": 3}) == {"services"}
    assert markers_for({"ww_client"}, {"ww_client": "sqlite", "p": {"a": 1}}) == set()
