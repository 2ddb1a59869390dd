#!/usr/bin/env bash
# Install local-bigquery (a BigQuery emulator on DuckDB) into its own venv under .tools/.
# It needs Python >= 3.13 and conflicts with nothing of ours because it lives apart.
# Its DuckDB extensions ship as PyPI wheels; they are loaded once with INSTALL so DuckDB never
# tries to download them (there may be no network).
set -euo pipefail
target="${1:-.tools/local-bigquery}"
if [ -x "$target/bin/local-bigquery" ] && [ -f "$target/.installed" ]; then exit 0; fi

python313=""
for candidate in "${PYTHON313:-}" \
    $( (command -v pyenv >/dev/null && ls -d "$(pyenv root)"/versions/3.13*/bin/python3.13) 2>/dev/null ) \
    "$(command -v python3.13 || true)"; do
  # A pyenv shim exists even where that version is not selected: check that it really runs.
  if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info >= (3, 13)' 2>/dev/null; then
    python313="$candidate"; break
  fi
done
if [ -z "$python313" ]; then
  echo "local-bigquery needs Python 3.13: install it (e.g. 'pyenv install 3.13') and retry." >&2
  exit 1
fi

"$python313" -m venv "$target"
here="$(cd "$(dirname "$0")" && pwd)"
# Pinned with every transitive dependency (local-bigquery==0.3.2, duckdb==1.5.5 and its extensions).
"$target/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$here/bigquery-emulator-requirements.txt" 2> >(grep -v "^WARNING: Location" >&2)
"$target/bin/python" - <<'PY'
import glob, site, duckdb
for path in sorted(glob.glob(site.getsitepackages()[0] + "/duckdb_extension_*/extensions/*/*.duckdb_extension")):
    duckdb.sql(f"INSTALL '{path}'")
PY
touch "$target/.installed"
