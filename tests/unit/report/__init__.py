"""Unit tests of ci.report: the report model, its files, Markdown, SBOM and OCI reader."""
