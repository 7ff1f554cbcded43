"""Hostile input: XML entities and DTDs in an MPD, URIs that leave the title or change scheme.
Nothing outside the title is read or fetched, whatever the manifest says."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pipeline.media.presentation import Track
from pipeline.validate.title import validate
from tests.support.requirements import requires
from tests.support.validate_titles import codes, edit

pytestmark = requires(shutil.which("ffmpeg"), "FFmpeg", "run scripts/setup.sh (apt package ffmpeg)")


def test_mpd_with_external_entity_is_refused(
    title: Path, tmp_path: Path, http_root: tuple[str, Path, list[str]]
) -> None:
    base, _, requested = http_root
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    mpd = title / "manifest.mpd"
    text = mpd.read_text()
    doctype = (
        "<!DOCTYPE MPD [\n"
        f'  <!ENTITY xxe SYSTEM "{secret.as_uri()}">\n'
        f'  <!ENTITY remote SYSTEM "{base}/xxe-probe">\n'
        "]>\n"
    )
    text = text.replace("<MPD ", doctype + "<MPD ", 1)
    text = text.replace('<Period id="0"', '<BaseURL>&xxe;&remote;</BaseURL>\n  <Period id="0"', 1)
    mpd.write_text(text)
    report = validate(mpd, decode=False)
    assert codes(report) == {"dash.xml_unsafe"}
    assert "TOP-SECRET-MARKER" not in report.to_json()
    assert "/xxe-probe" not in requested


def test_safe_xml_refuses_a_dtd_in_any_encoding(tmp_path: Path) -> None:
    from pipeline.validate.dash import UnsafeXml, safe_xml

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it would block: proof that nothing tries to read the entity
    doc = (
        '<?xml version="1.0" encoding="UTF-16"?>'
        f'<!DOCTYPE MPD [<!ENTITY x SYSTEM "{fifo.as_uri()}">'
        f'<!ENTITY % p SYSTEM "{fifo.as_uri()}"> %p;]><MPD>&x;</MPD>'
    )
    with pytest.raises(UnsafeXml, match="^the document declares a DTD$"):
        safe_xml(doc.encode("utf-16"))
    assert safe_xml(b"<MPD/>").tag == "MPD"


def test_mpd_entity_bomb_is_refused(tmp_path: Path) -> None:
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    mpd = tmp_path / "manifest.mpd"
    mpd.write_text(f'<?xml version="1.0"?><!DOCTYPE MPD [<!ENTITY l0 "lol">{lol}]><MPD>&l9;</MPD>')
    assert codes(validate(mpd, decode=False)) == {"dash.xml_unsafe"}


def test_manifest_cannot_reach_outside_the_title(title: Path) -> None:
    edit(title / "v180.m3u8", "v180/1.m4s", "../../../../../../etc/passwd")
    report = validate(title / "master.m3u8", decode=False)
    refused = [v for v in report.violations if v.code == "fetch.refused"]
    assert len(refused) == 1 and refused[0].where.endswith("/etc/passwd")


def test_http_missing_segment_and_refused_scheme(
    good: tuple[Path, list[Track]], http_root: tuple[str, Path, list[str]]
) -> None:
    title, _ = good
    base, root, _ = http_root
    dest = root / "broken"
    shutil.copytree(title, dest)
    (dest / "v144" / "3.m4s").unlink()
    edit(dest / "aud.m3u8", "aud/1.m4s", "file:///etc/passwd")
    report = validate(f"{base}/broken/master.m3u8", decode=False)
    found = {(v.code, v.where) for v in report.violations}
    assert ("file.missing", "v144/3.m4s") in found
    assert ("fetch.refused", "file:///etc/passwd") in found


def test_safe_xml_accepts_comments_and_refuses_entities() -> None:
    from pipeline.validate.dash import UnsafeXml, safe_xml

    mpd = b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><!-- made by hand --><Period/></MPD>'
    assert safe_xml(mpd).find("{urn:mpeg:dash:schema:mpd:2011}Period") is not None
    hostile = b'<!DOCTYPE MPD [<!ENTITY x "boom">]><MPD>&x;</MPD>'
    with pytest.raises(UnsafeXml, match="^the document declares a DTD or entities$"):
        safe_xml(hostile)
