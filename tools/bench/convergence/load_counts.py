#!/usr/bin/python3
"""The failures wrk and h2load saw, from their outputs, as one JSON line (part "swaps-load").

Usage: load_counts.py MODE WRK_OUTPUT H2LOAD_OUTPUT
  wrk:    requests, non-2xx (its "Non-2xx or 3xx responses"), socket errors (connect, read:
          reset connections, write, timeout);
  h2load: requests done, non-2xx (done minus its 2xx), failed + errored + timed-out requests.
"failures" sums the failure counts; an output that cannot be read counts as one failure.
"""
import json
import re
import sys


def number(pattern, text, default=None):
    m = re.search(pattern, text, re.M)
    return int(m.group(1)) if m else default


def main():
    mode, wrk_file, h2_file = sys.argv[1:4]
    wrk, h2 = open(wrk_file).read(), open(h2_file).read()
    out = {"part": "swaps-load", "mode": mode}
    out["wrk_requests"] = number(r"^\s*(\d+) requests in", wrk)
    out["wrk_non2xx"] = number(r"Non-2xx or 3xx responses: (\d+)", wrk, 0)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk)
    out["wrk_socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    m = re.search(r"^requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                  r"(\d+) errored, (\d+) timeout", h2, re.M)
    two = number(r"^status codes: (\d+) 2xx", h2)
    if m and two is not None:
        done = int(m.group(1))
        out["h2_requests"] = done
        out["h2_non2xx"] = done - two
        out["h2_failed"] = int(m.group(3)) + int(m.group(4)) + int(m.group(5))
    unread = int(out["wrk_requests"] is None) + int("h2_requests" not in out)
    out["failures"] = (unread + out["wrk_non2xx"] + out["wrk_socket_errors"]
                       + out.get("h2_non2xx", 0) + out.get("h2_failed", 0))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
