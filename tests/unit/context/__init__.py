"""Unit tests of context/: boot.sh, init.py and the configs, against a fake image root."""
