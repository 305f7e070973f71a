"""Unit tests of examples/: the Kubernetes manifests and docker-run.sh."""
