"""Identifier patterns every route agrees on, so one rule validates an id wherever it arrives."""

from __future__ import annotations

from catalogue.model import TITLE_ID_PATTERN

# Customer and device ids: what activation stores and sessions sign.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$"

__all__ = ["ID_PATTERN", "TITLE_ID_PATTERN"]
