"""Bytes to a frame of strings: gzip, encoding, delimiter, header, quotes and ragged rows, in bounded steps."""
