"""The supply-chain evidence of an image: its SBOM (syft), its vulnerability scan (osv-scanner) and
its signature and attestations (cosign), and promote's check of all of them before it copies."""
