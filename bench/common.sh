# Helpers shared by the scripts in bench/ (sourced, not run).

# need COMMAND DEBIAN_PACKAGE: installs the package from Debian unless COMMAND is on the PATH.
need() {
    command -v "$1" >/dev/null && return
    echo "installing $2 (Debian) for $1" >&2
    local sudo=""
    [[ "$(id -u)" == 0 ]] || sudo="sudo"
    $sudo apt-get update -qq >&2
    $sudo apt-get install -y -qq "$2" >&2
}

# median: the median of the numbers on standard input, one per line.
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
