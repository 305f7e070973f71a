"""Unit tests of ci.scripts: the in-image scripts as files."""
