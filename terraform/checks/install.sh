#!/usr/bin/env bash
# Offline Terraform checks, installed into .tools/ (see terraform/checks/README.md):
#   - the stand-in google provider: its own venv (the `tf` package needs protobuf 5, the Google
#     clients protobuf 6+), the schema synthesised from cdktf's google provider wheel, and the
#     plugin-dir layout `terraform init -plugin-dir` expects; a stand-in for hashicorp/time too;
#   - checkov, in its own venv (it ships a conflicting `hcl2` module).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="$(cd "${1:-.tools}" 2>/dev/null && pwd || (mkdir -p "${1:-.tools}" && cd "${1:-.tools}" && pwd))"
python="${PYTHON:-python3}"
quiet_pip() { "$@" 2> >(grep -v "^WARNING: Location" >&2); }

provider_venv="$tools/tf-provider"
if [ ! -f "$provider_venv/.installed" ]; then
  "$python" -m venv "$provider_venv"
  quiet_pip "$provider_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/provider-requirements.txt"
  mkdir -p "$tools/cache"
  quiet_pip "$provider_venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
    -d "$tools/cache" cdktf-cdktf-provider-google==16.12.1
  "$provider_venv/bin/python" "$here/standin_provider/build_schema.py" \
    "$tools"/cache/cdktf_cdktf_provider_google-16.12.1-py3-none-any.whl "$provider_venv/schema.pb"
  touch "$provider_venv/.installed"
fi

plugin_dir="$tools/terraform-plugins/registry.terraform.io/hashicorp/google/6.50.0/linux_amd64"
mkdir -p "$plugin_dir"
cat > "$plugin_dir/terraform-provider-google_v6.50.0" <<SH
#!/bin/sh
exec "$provider_venv/bin/python" "$here/standin_provider/provider.py" "$provider_venv/schema.pb"
SH
chmod +x "$plugin_dir/terraform-provider-google_v6.50.0"

# hashicorp/time (time_sleep only), served by the same stand-in process with a hand-written schema.
"$provider_venv/bin/python" "$here/standin_provider/time_schema.py" "$provider_venv/time-schema.pb"
time_dir="$tools/terraform-plugins/registry.terraform.io/hashicorp/time/0.13.1/linux_amd64"
mkdir -p "$time_dir"
cat > "$time_dir/terraform-provider-time_v0.13.1" <<SH
#!/bin/sh
exec "$provider_venv/bin/python" "$here/standin_provider/provider.py" "$provider_venv/time-schema.pb"
SH
chmod +x "$time_dir/terraform-provider-time_v0.13.1"

checkov_venv="$tools/checkov"
if [ ! -f "$checkov_venv/.installed" ]; then
  "$python" -m venv "$checkov_venv"
  quiet_pip "$checkov_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/checkov-requirements.txt"
  touch "$checkov_venv/.installed"
fi
# Mark both as current for make (the time stand-in and the wrapper scripts were rewritten above).
touch "$provider_venv/.installed" "$checkov_venv/.installed"
