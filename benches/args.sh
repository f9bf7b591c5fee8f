# Sourced by the benchmark scripts: `bench_args USAGE MAX_ARGS "$@"` answers more than MAX_ARGS
# arguments, -h/--help, or a numeric setting (ROUNDS, STEPS, EPOCHS, THREADS) that is not a
# positive whole number with the script's usage and exit 2, before anything is built or run.
bench_args() {
  local usage=$1 max=$2
  shift 2
  case "${1:-}" in -h | --help) echo "usage: $usage"; exit 0 ;; esac
  if [ $# -gt "$max" ]; then
    echo "error: too many arguments ($*)" >&2; echo "usage: $usage" >&2; exit 2
  fi
  local v
  for v in ROUNDS STEPS EPOCHS THREADS; do
    if [ -n "${!v:-}" ] && ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
      echo "error: $v='${!v}' is not a positive whole number" >&2; echo "usage: $usage" >&2; exit 2
    fi
  done
}
