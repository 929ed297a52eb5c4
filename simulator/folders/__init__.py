"""Results folders: one module per folder format, each with its writer and its
reader, and the one atomic-write helper they all use.

* :mod:`~simulator.folders.atomic`: create folders, write files through a
  unique temporary name and a rename; an output that cannot be written is a
  :class:`~simulator.errors.ModsimError` naming the path and the reason.
* :mod:`~simulator.folders.run`: what ``modsim run`` writes (claimed by one
  writer, ``posts.parquet`` sorted by post id, ``summary.json`` last).
* :mod:`~simulator.folders.experiment`: a comparison's or batch's folder, one
  file per finished cell, so experiments resume.
* :mod:`~simulator.folders.search` and :mod:`~simulator.folders.robustness`:
  a policy search's and a robustness study's records.
* :mod:`~simulator.folders.load`: which kind a folder is, read back.

This layer lies below experiments (which keep their cells here as they
finish) and report (which reads folders, never re-running anything); it
imports neither. Reports are rendered by :mod:`simulator.report` and written
into these folders by :mod:`simulator.studies`. Nothing is imported here, so
importing one format costs no other.
"""
