"""Unit tests of .github/workflows: the CI workflow's commands and pins."""
