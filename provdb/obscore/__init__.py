"""ObsCore: the archive's science products in ``ivoa.obscore``, kept current.

:mod:`provdb.obscore.refresh` computes the rows (which entities are products, where
each value comes from), :mod:`provdb.cli.obscore` is ``provdb obscore``.
"""

from provdb.obscore.refresh import PRODUCT_LEVELS, rebuild, refresh_touched

__all__ = ["PRODUCT_LEVELS", "rebuild", "refresh_touched"]
