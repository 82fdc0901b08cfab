"""``python -m flowbench.datasets --dataset {mnist,fashion-mnist} --root DIR``: see
:func:`flowbench.datasets.download.main`."""
from .download import main

raise SystemExit(main())
