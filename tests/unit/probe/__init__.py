"""Unit tests of ci.probe: check rules and manifest parsers on canned outputs."""
