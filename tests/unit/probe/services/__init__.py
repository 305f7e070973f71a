"""Unit tests of ci.probe.services: the service checks' parsing helpers."""
