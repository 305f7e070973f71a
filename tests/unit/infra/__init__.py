"""Unit tests of tests/infra: the engine build pin and the stack scripts' progress lines."""
