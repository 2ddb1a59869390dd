"""Loaded by a local function process (PYTHONPATH) after site-packages are set up: it takes the
editable install of the runtime (shared/src) off sys.path, so the function can only import the
runtime modules its packaged tree holds. A module the packaging missed then fails locally, in
`make run` and the end-to-end tests, instead of in production."""

import sys

sys.path[:] = [entry for entry in sys.path if not entry.rstrip("/").endswith("shared/src")]
