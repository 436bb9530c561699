"""``provdb scan``: data files (HDF5, FITS) as entities, with the software versions in them.

* :mod:`provdb.scan.hdf5`, :mod:`provdb.scan.fits`: pure readers, path ->
  :class:`~provdb.scan.metadata.FileMetadata` (attributes, headers, configuration,
  ``/provenance`` activities; never the data; never raise for a bad file);
* :mod:`provdb.scan.metadata`: the result type, version keywords, ``config`` decoding;
* :mod:`provdb.scan.safe_pickle`: pickled plain data rebuilt without unpickling;
* :mod:`provdb.scan.pipeline`: walking, incremental skipping, parallel reading, writing
  entities and ``archive.software`` rows in batches;
* :mod:`provdb.scan.scan_cli`: the command's progress bar and summary.

h5py and astropy are imported only when a file of their kind is read.
"""

from provdb.scan.metadata import FileMetadata, FoundVersion

__all__ = ["FileMetadata", "FoundVersion"]
