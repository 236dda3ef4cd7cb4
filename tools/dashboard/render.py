#!/usr/bin/python3
"""Draws a Grafana dashboard (its JSON model) from a Prometheus server's data into a PNG, headless:
each panel where its gridPos puts it, a time series from query_range for "timeseries" panels and
the latest value for "stat" panels, with Grafana's variables given the values Grafana gives them
($__rate_interval, and "All" for query variables). Grafana itself is not packaged for Debian;
this is the nearest faithful picture of deploy/grafana/xgate-dashboard.json on real data.

usage: render.py DASHBOARD.json PROMETHEUS_URL OUT.png [--minutes N]
"""
import argparse
import json
import time
import urllib.parse
import urllib.request

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

BG, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
UNITS = {"s": "s", "ops": "/s", "reqps": "req/s", "pps": "pkt/s", "bps": "bit/s", "short": ""}


def query(prom, path, params):
    url = f"{prom}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = json.load(answer)
    if body.get("status") != "success":
        raise SystemExit(f"{url}: {body}")
    return body["data"]["result"]


def expand(expr, step):
    rate = f"{max(4 * step, 15)}s"
    return expr.replace("$__rate_interval", rate).replace("$instance", ".*")


def legend(fmt, labels):
    out = fmt
    for key, value in labels.items():
        out = out.replace("{{" + key + "}}", value)
    return out.replace("{{", "").replace("}}", "").strip() or "value"


def human(value, unit):
    suffix = UNITS.get(unit, unit)
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{suffix}"
    if unit == "s" and 0 < abs(value) < 1:
        return f"{value * 1000:.3g} ms"
    return f"{value:.3g} {suffix}".strip()


def draw(dashboard, prom, out, minutes):
    end = time.time()
    start = end - 60 * minutes
    step = max(1, int(60 * minutes / 240))
    panels = [p for p in dashboard["panels"]]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    unit_h = 0.42
    fig = plt.figure(figsize=(24 * 0.75, rows * unit_h + 0.8), facecolor=BG)
    fig.text(0.01, 1 - 0.3 / (rows * unit_h + 0.8), f"{dashboard['title']}  (last {minutes} min)",
             color=TEXT, fontsize=14, va="top")
    top = 0.6 / (rows * unit_h + 0.8)

    def box(g, pad=0.004):
        left, width = g["x"] / 24, g["w"] / 24
        height = (1 - top) * g["h"] / rows
        bottom = 1 - top - (1 - top) * (g["y"] + g["h"]) / rows
        # Room on the left for the y tick labels, as Grafana leaves inside a panel.
        return [left + pad + 0.03, bottom + pad * 4, width - 2 * pad - 0.03, height - pad * 6]

    for p in panels:
        g = p["gridPos"]
        unit = p.get("fieldConfig", {}).get("defaults", {}).get("unit", "short")
        if p["type"] == "row":
            fig.text(g["x"] / 24 + 0.005, 1 - top - (1 - top) * (g["y"] + 0.7) / rows, p["title"],
                     color=TEXT, fontsize=12, weight="bold")
            continue
        ax = fig.add_axes(box(g), facecolor=PANEL)
        ax.set_title(p["title"], color=TEXT, fontsize=9, loc="left")
        for spine in ax.spines.values():
            spine.set_color(GRID)
        if p["type"] == "stat":
            ax.set_xticks([])
            ax.set_yticks([])
            values = []
            for t in p["targets"]:
                values += [float(r["value"][1])
                           for r in query(prom, "/api/v1/query",
                                          {"query": expand(t["expr"], step), "time": end})]
            text = human(values[0], unit) if values else "No data"
            ax.text(0.5, 0.45, text, color="#73bf69" if values else "#8e8e8e",
                    fontsize=20 if values else 12, ha="center", va="center",
                    transform=ax.transAxes)
            continue
        lines = 0
        for t in p["targets"]:
            series = query(prom, "/api/v1/query_range",
                           {"query": expand(t["expr"], step), "start": start, "end": end,
                            "step": step})
            # The busiest first, as many as a legend can hold.
            series.sort(key=lambda s: -max(float(v[1]) for v in s["values"]))
            for s in series[:10]:
                xs = [(float(v[0]) - end) / 60 for v in s["values"]]
                ys = [float(v[1]) for v in s["values"]]
                ax.plot(xs, ys, linewidth=1.2, label=legend(t.get("legendFormat", ""), s["metric"]))
                lines += 1
        ax.set_xlim(-minutes, 0)
        ax.tick_params(colors=TEXT, labelsize=7)
        ax.grid(color=GRID, linewidth=0.5)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: human(v, unit)))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0f} min"))
        if lines:
            ax.legend(fontsize=6, loc="upper left", facecolor=PANEL, edgecolor=GRID,
                      labelcolor=TEXT, ncol=2 if lines > 4 else 1)
        else:
            ax.text(0.5, 0.5, "No data", color="#8e8e8e", ha="center", va="center",
                    transform=ax.transAxes)
    fig.savefig(out, dpi=80, facecolor=BG)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dashboard")
    parser.add_argument("prometheus", help="e.g. http://127.0.0.1:9090")
    parser.add_argument("out")
    parser.add_argument("--minutes", type=int, default=5)
    args = parser.parse_args()
    with open(args.dashboard) as f:
        dashboard = json.load(f)
    draw(dashboard, args.prometheus.rstrip("/"), args.out, args.minutes)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
