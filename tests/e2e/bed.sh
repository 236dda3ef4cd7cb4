# The preamble of the namespace end-to-end tests: strict mode, the assertions of lib.sh, root
# (or skip), the build to test, and the seed bed's functions (tools/lib/seedbed.sh). Source it
# first: source "$(dirname "$0")/bed.sh" (or ../e2e/bed.sh from another folder of tests/).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_root
export XGATE_BUILD=${XGATE_BUILD:?}
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib/seedbed.sh"
