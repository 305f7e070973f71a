"""Unit tests of ci.pipeline: the engine-free rules of build, publish and retest."""
