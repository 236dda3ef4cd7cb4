#!/usr/bin/python3
"""The convergence benchmark's table, from xgate-bench-convergence's JSON lines (and run's own
"start", "rss" and "swaps-load" lines): one row per measure, one column per mode (standalone,
API server). Prints it aligned; --markdown FILE writes it as a markdown table too.

Usage: table.py RESULTS.jsonl [--markdown FILE]
"""
import argparse
import json

MODES = [("folder", "standalone (folder)"), ("kube", "API server")]
CHANGES = ["new HTTPRoute", "new TCPRoute", "weight change", "deleted HTTPRoute",
           "deleted TCPRoute"]


def quantile(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q * (len(v) - 1) + 0.5))]


def spread(line):
    ms, timeouts = line["ms"], line["timeouts"]
    text = f"p50 {quantile(ms, .5):.1f} / p99 {quantile(ms, .99):.1f} ms" if ms else "-"
    n = f"{len(ms)} runs" + (f", {timeouts} TIMED OUT" if timeouts else "")
    if line.get("stopped"):
        n += ", stopped: 3 rounds in a row timed out"
    return f"{text} ({n})"


def bed(line):
    """The bed a figure comes from: (mode, HTTPRoutes, TCP/UDP routes), and its words."""
    key = (line["mode"], line["routes"], line["l4"])
    words = (f"{line['routes']} HTTPRoutes" if line["routes"] else
             f"{line['l4']} TCP/UDP routes" if line["l4"] else "0 routes")
    return key, words


def rows(lines):
    """[(measure, {mode: cell})] in the table's order."""
    out = {}

    def cell(measure, mode, text):
        out.setdefault(measure, {})[mode] = text

    starts = {bed(l)[0]: l["unix_ms"] for l in lines if l["part"] == "start"}
    for l in lines:
        if l["part"] == "latency" and l["routes"] + l["l4"] == 0:
            cell(f"{l['change']}, {l['load']}", l["mode"], spread(l))
    for l in lines:
        if l["part"] == "latency" and l["routes"] + l["l4"] > 0:
            cell(f"{l['change']} among {bed(l)[1]}, idle", l["mode"], spread(l))
    served = {}
    for l in lines:
        if l["part"] == "served":
            key, words = bed(l)
            served[key] = (words, max(served.get(key, ("", 0))[1], l.get("unix_ms", float("inf"))))
    for key, (words, at) in sorted(served.items(), key=lambda kv: (kv[0][2], kv[0][1])):
        start = starts.get(key)
        text = "NEVER SERVED" if at == float("inf") or start is None else f"{at - start} ms"
        cell(f"{words}: agent start -> last served", key[0], text)
    warm = {}
    # "with N routes" by N, then the samples under changes
    rss = sorted((l for l in lines if l["part"] == "rss"),
                 key=lambda l: (not l["at"].startswith("with"), l["l4"], l["routes"]))
    for l in rss:
        at = f"with {bed(l)[1]}" if l["at"].startswith("with") else f"{bed(l)[1]}, {l['at']}"
        cell(f"RSS agent / proxy, {at}", l["mode"], f"{l['agent_mb']:.0f} / {l['proxy_mb']:.0f} MB")
        if "warm-up" in l["at"]:
            warm[l["mode"]] = l
        elif l["at"].startswith("after") and l["mode"] in warm:
            w = warm[l["mode"]]
            cell("RSS growth after the warm-up (agent / proxy)", l["mode"],
                 f"{l['agent_mb'] - w['agent_mb']:+.1f} / {l['proxy_mb'] - w['proxy_mb']:+.1f} MB")
    for l in lines:
        if l["part"] == "swaps":
            n = len(l["ms"]) + l["timeouts"]
            cell(f"{n} config swaps under wrk + h2load: swap seen", l["mode"], spread(l))
        if l["part"] == "swaps-load":
            text = (f"wrk {l['wrk_non2xx']} non-2xx, {l['wrk_socket_errors']} socket errors of "
                    f"{l['wrk_requests']}; h2load {l.get('h2_non2xx', '?')} non-2xx, "
                    f"{l.get('h2_failed', '?')} failed of {l.get('h2_requests', '?')}")
            cell("failed requests during the swaps (target 0)", l["mode"], text)
    order = lambda m: (next((i for i, c in enumerate(CHANGES) if m.startswith(c)), len(CHANGES)),)
    latency = sorted((m for m in out if ", idle" in m or ", churn" in m), key=order)
    return [(m, out[m]) for m in latency] + [(m, out[m]) for m in out if m not in latency]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--markdown")
    args = parser.parse_args()
    lines = [json.loads(l) for l in open(args.results) if l.strip()]
    table = rows(lines)
    modes = [(m, title) for m, title in MODES if any(l.get("mode") == m for l in lines)]
    head = ["measure"] + [title for _, title in modes]
    body = [[measure] + [cells.get(m, "") for m, _ in modes] for measure, cells in table]
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    for r in [head] + body:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if args.markdown:
        with open(args.markdown, "w") as out:
            out.write("| " + " | ".join(head) + " |\n")
            out.write("|" + "|".join("---" for _ in head) + "|\n")
            for r in body:
                out.write("| " + " | ".join(r) + " |\n")
    return 0 if table else 1


if __name__ == "__main__":
    raise SystemExit(main())
