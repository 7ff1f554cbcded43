"""Avails rights files (EMA / MovieLabs): value parsers, one transaction model and its rules,
and the two carriers that feed them (XML v2.x, XLSX v1.7-1.9)."""
