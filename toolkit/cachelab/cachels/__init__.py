"""Listing and pruning kaniko layer caches: what is stored, how old, and what a Dockerfile would hit.

`list_cache` returns one `CacheRow` per entry of a registry repository, a layout
store or kaniko's `oci:DIR` layout form. `mark_dockerfile_hits` marks the rows
a Dockerfile's current keys would hit, and `prune_cache` deletes entries older
than a duration. `cache_frame` returns the rows as a pandas DataFrame.
"""
