"""Unit tests of ci.table: reading versions.yaml, its rows, the resolver and the base-image lock."""
