# Helpers for end-to-end tests: assertions and the privileged-test rule.

E2E_FAILED=0
E2E_PASSED=0

ok() { E2E_PASSED=$((E2E_PASSED + 1)); printf 'ok   %s\n' "$*"; }
fail() { E2E_FAILED=$((E2E_FAILED + 1)); printf 'FAIL %s\n' "$*"; }
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}
expect_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi
}

# Root is needed for namespaces and XDP. Without it: skip (77), or fail when CI requires it.
require_root() {
  if [ "$(id -u)" != 0 ]; then
    if [ "${XGATE_REQUIRE_PRIVILEGED:-0}" = 1 ]; then
      echo "needs root and XGATE_REQUIRE_PRIVILEGED=1" >&2
      exit 1
    fi
    echo "skipped: needs root" >&2
    exit 77
  fi
}

e2e_summary() {
  echo "$E2E_PASSED passed, $E2E_FAILED failed"
  [ "$E2E_FAILED" = 0 ]
}
