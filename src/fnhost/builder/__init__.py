"""Turning an uploaded code zip into a runnable function: unpack, validate, build environment."""
