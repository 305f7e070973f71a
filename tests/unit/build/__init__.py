"""Unit tests of ci.build: the layer functions, recorded on a fake Container (no engine)."""
