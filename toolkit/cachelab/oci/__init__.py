"""OCI image I/O: references, registries, layout stores, layers and kaniko's cache.

This package imports nothing else of cachelab; the builder reads base images and
cache entries and writes cache entries and images only through it.

Modules, from the bottom up:

* `reference` parses `host[:port]/repo[:tag][@digest]` (Docker's defaults) and
  `oci:DIR:TAG` / `oci:DIR@digest`.
* `errors` is the error tree; every error has a one-sentence `hint`.
* `mediatypes`, `manifest` cover descriptors, manifests, indexes and configs.
  A *digest* is the sha256 of stored (compressed) bytes, a *diff_id* that of
  the uncompressed layer tar. Raw manifests and configs are kept as bytes.
* `compression`, `layers`, `extract` read and write layer blobs (gzip, zstd,
  none) and extract them safely into a root, applying whiteouts.
* `registry` (with `auth`, `transfer`) is the distribution API client.
* `layout` is the OCI image layout store, the default local store.
* `image` resolves references to platform manifests and writes images.
* `cache` stores kaniko's layer and pointer entries on a registry repository,
  one layout store (cachelab's default) or kaniko's one-layout-per-key `oci:DIR`.
* `busybox`, `importer` make single-layer base images from a root filesystem.
"""
