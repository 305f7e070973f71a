"""Unit tests of ci.cli: each command's flags, in-process."""
