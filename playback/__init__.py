"""Playback sessions: CDN access tokens and signed URLs (issue 7)."""
