"""AVC/HEVC bitstream parsing: NAL units, RBSP, Exp-Golomb, parameter sets, slice headers.

Media-model layer: pure over bytes, imports nothing above `core`. `drm.encryption.subsamples`
uses it to decide which bytes of a sample stay clear.
"""
