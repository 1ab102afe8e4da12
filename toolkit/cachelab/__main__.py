from cachelab.cli import entrypoint

entrypoint()
