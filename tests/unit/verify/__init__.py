"""Unit tests of ci.verify: index rules and findings on recorded index responses."""
