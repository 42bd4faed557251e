# Sourced by scripts/test and scripts/demo: make sure .venv holds moto server and boto3 at the
# versions in tests/seed/requirements.txt. Reinstalls only when that file changes.
venv_dir="${ECS_COST_SAVER_VENV:-$PWD/.venv}"
requirements="tests/seed/requirements.txt"
stamp="$venv_dir/.requirements"
if [ ! -x "$venv_dir/bin/moto_server" ] || ! cmp -s "$requirements" "$stamp"; then
    echo "installing moto server into $venv_dir" >&2
    python3 -m venv "$venv_dir"
    "$venv_dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi
export ECS_COST_SAVER_VENV="$venv_dir"
