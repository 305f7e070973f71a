"""Unit tests of ci.model: the resolved image spec, references, tags, the contract and user input files."""
