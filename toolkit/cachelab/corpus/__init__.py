"""Corpora of real Dockerfiles: manifests, fetched stores and static scans."""
