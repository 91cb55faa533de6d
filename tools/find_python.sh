#!/usr/bin/env bash
# Print the path of a working CPython X.Y interpreter (for the virtual environments), or fail.
#   tools/find_python.sh 3.13
# Order: $PYTHON<XY> (e.g. PYTHON313), pythonX.Y on PATH, python3 if it is X.Y, pyenv's versions.
set -u
want="$1"
is_want() { "$1" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" >/dev/null 2>&1; }
override="PYTHON${want/./}"
candidates=("${!override:-}" "python$want" python3)
root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
for dir in "$root"/versions/"$want"*/bin; do candidates+=("$dir/python$want"); done
for py in "${candidates[@]}"; do
  [ -n "$py" ] || continue
  if is_want "$py"; then command -v "$py"; exit 0; fi
done
echo "error: no Python $want found (tried \$$override, python$want, python3, $root/versions/$want*); install it, e.g. \`pyenv install $want\`" >&2
exit 1
