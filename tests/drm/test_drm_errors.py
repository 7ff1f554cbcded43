"""DRM errors: each belongs to the category callers act on, keeps its one-line message, and
crosses a process boundary (pickle, as Celery sends it) intact."""

from __future__ import annotations

import pickle

import pytest

from core.errors import BadInput, Refused, Transient, VodError
from drm.encryption.subsamples import SubsampleError
from drm.keyexchange.cpix import CpixError
from drm.keyexchange.speke import (
    KeyServerBadAnswer,
    KeyServerError,
    KeyServerRefused,
    KeyServerUnavailable,
    key_server_error,
)
from drm.keys import DrmError
from drm.keystore import KeyStoreError
from drm.signalling.clearkey import ClearKeyRequestError
from pipeline.bitstream.bits import BitstreamError

URL = "https://keys.example/cpix"


@pytest.mark.parametrize(
    "err, category, message",
    [
        (DrmError("no content key for label(s) HD"), BadInput, "[drm] no content key"),
        (KeyStoreError("key store has mode 0644", "/k.sqlite"), BadInput, "[drm] /k.sqlite: "),
        (ClearKeyRequestError("licence request is not JSON"), BadInput, "[drm] licence request"),
        (CpixError("CPIX response", "no ContentKey"), BadInput, "[cpix] CPIX response: no"),
        (SubsampleError("cannot encrypt avc NAL unit type 2"), BadInput, "cannot encrypt avc"),
        (BitstreamError("truncated AVC SPS"), BadInput, "truncated AVC SPS"),
        (key_server_error("timed out", URL, None), Transient, f"[drm] {URL}: timed out"),
        (key_server_error("HTTP 503", URL, 503), Transient, "HTTP 503"),
        (key_server_error("HTTP 429", URL, 429), Transient, "HTTP 429"),
        (key_server_error("HTTP 401", URL, 401), Refused, "HTTP 401"),
        (key_server_error("HTTP 403", URL, 403), Refused, "HTTP 403"),
        (key_server_error("HTTP 404", URL, 404), BadInput, "HTTP 404"),
    ],
)
def test_category_message_and_pickling(err: VodError, category: type, message: str) -> None:
    assert isinstance(err, category) and err.status == category.status
    assert message in str(err) and "\n" not in str(err)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err)
    assert back.problem() == err.problem()
    assert vars(back) == vars(err)


def test_key_server_errors_keep_the_servers_status_apart_from_ours() -> None:
    refused = key_server_error("HTTP 401 Unauthorized", URL, 401)
    assert isinstance(refused, KeyServerRefused) and isinstance(refused, KeyServerError)
    assert refused.server_status == 401 and refused.problem()["status"] == 403
    assert refused.problem()["reason"] == "key_server_refused"
    assert isinstance(key_server_error("down", URL, 502), KeyServerUnavailable)
    assert isinstance(key_server_error("bad CPIX", URL, 200), KeyServerBadAnswer)
    # one category each: a transient failure is never also bad input
    assert not isinstance(key_server_error("down", URL, None), BadInput)


def test_value_error_callers_keep_working() -> None:
    """The packager turns ValueErrors into PackageError; the licence endpoints answer 400."""
    for err in (SubsampleError("x"), BitstreamError("x"), ClearKeyRequestError("x")):
        assert isinstance(err, ValueError)
