"""The ``modsim`` command: thin typed commands over the library.

Commands load files, call the library, write outputs and show progress. Any
:class:`~simulator.errors.ModsimError` becomes one clear message on stderr
and exit code 2, never a traceback. Each command group lives in its own
module and registers itself on the shared :data:`app`.
"""

from simulator.cli import batch as _batch  # noqa: F401  (registers batch)
from simulator.cli import calibrate as _calibrate  # noqa: F401  (registers calibrate)
from simulator.cli import classifier as _classifier  # noqa: F401  (registers classifier ...)
from simulator.cli import compare as _compare  # noqa: F401  (registers compare)
from simulator.cli import diff as _diff  # noqa: F401  (registers diff)
from simulator.cli import explain as _explain  # noqa: F401  (registers explain)
from simulator.cli import export as _export  # noqa: F401  (registers export)
from simulator.cli import init as _init  # noqa: F401  (registers init)
from simulator.cli import optimize as _optimize  # noqa: F401  (registers optimize, robustness)
from simulator.cli import report as _report  # noqa: F401  (registers report)
from simulator.cli import run as _run  # noqa: F401  (registers run, validate, schema)
from simulator.cli.app import app, main

__all__ = ["app", "main"]
