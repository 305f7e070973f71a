"""Unit tests of ci.registry: skopeo's messages, base lookups and promotion, with fake registries."""
