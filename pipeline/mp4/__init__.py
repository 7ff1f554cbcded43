"""ISO BMFF (MP4) box model: declarative box descriptions, streaming reader, codec strings."""

from pipeline.mp4 import boxes as boxes  # registers every box description
from pipeline.mp4.base import Box, RawBox, parse_box, parse_boxes

__all__ = ["Box", "RawBox", "boxes", "parse_box", "parse_boxes"]
