"""Engine-free unit tests."""
