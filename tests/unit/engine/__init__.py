"""Unit tests of ci.engine: the remote cache and engine flags."""
