"""cachelab: measure, explain and teach container-build cache behaviour.

The import is deliberately light: the build path must start fast, so nothing here
imports pandas, matplotlib or ipywidgets. Import the subpackages you need.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
