"""Targets: where the bytes of a scan come from (directory, image archive, OCI layout, registry, SBOM)."""
