#!/usr/bin/env python3
"""Turn the raw output of bench/http-bench.sh into the Markdown report.

usage: summarize.py META RAW > report.md

META  key=value lines (machine, versions, command) written by http-bench.sh
RAW   the RUN and PREFLIGHT lines http-bench.sh printed, e.g.
      RUN topo=C method=GET target=nginx run=1 rps=90259 p50_ms=0.485 p90_ms=0.6 p99_ms=1.75
          max_ms=9.1 reqs=902590 errors=0 non2xx=0 server_busy=98.1 load_busy=71.0 steal=0.0

Per-request server CPU (µs) = server_busy/100 * 1e6 / rps, computed per run; medians and min-max
are over the runs of a cell. Ratios are sidecar/nginx: the ratio of the medians, and in
parentheses the range of the per-pair ratios (run i of the sidecar against run i of nginx, which
ran right before it).
"""

import os
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing summary_lib
from summary_lib import (  # noqa: E402 (after dont_write_bytecode)
    fence, grouped, machine_table, med_range as _med_range, median, note,
    num, parse_kv, raw_records, read_meta, span, table_head)

LABEL = {"nginx": "nginx proxy_pass", "sidecar": "mcp-sidecar",
         "sidecar-plain": "mcp-sidecar --observe false"}
TOPO = {
    "C": "C: proxy alone on the server cpu; upstream + wrk on the load cpu",
    "E": "E: proxy + upstream on the server cpu; wrk alone on the load cpu",
}
METHOD = {"GET": "GET /", "POST": "POST /mcp, 300-byte tools/call"}


def read_raw(path):
    runs, pre = [], []
    for tag, fields, _ in raw_records(path):
        if tag == "RUN":
            r = parse_kv(fields)
            for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "non2xx",
                      "server_busy", "load_busy", "steal"):
                r[k] = num(r.get(k))
            r["run"] = int(r.get("run", 0))
            r["cpu_us"] = (r["server_busy"] / 100 * 1e6 / r["rps"]) if r["rps"] > 0 else float("nan")
            r["flagged"] = r["errors"] != 0 or r["non2xx"] != 0
            runs.append(r)
        else:
            pre.append(parse_kv(fields))
    return runs, pre


def fmt(v, kind):
    if v != v:  # nan
        return "n/a"
    if kind == "rps":
        return grouped(v)
    if kind == "ms":
        return f"{v:.3f}"
    if kind == "pct":
        return f"{v:.1f}"
    if kind == "us":
        return f"{v:.1f}"
    if kind == "ratio":
        return f"{v:.2f}"
    return str(v)


def med_range(values, kind):
    return _med_range(values, lambda v: fmt(v, kind))


def ratio(a, b):
    return a / b if (a == a and b == b and b > 0) else float("nan")


def ratio_cell(side, ngx, key):
    r = ratio(median(r[key] for r in side), median(r[key] for r in ngx))
    by_run = {x["run"]: x for x in ngx}
    pairs = [ratio(s[key], by_run[s["run"]][key]) for s in side if s["run"] in by_run]
    pairs = [p for p in pairs if p == p]
    text = f"**{fmt(r, 'ratio')}**"
    if len(pairs) > 1:
        text += f" ({span(pairs, lambda v: fmt(v, 'ratio'))})"
    return r, text


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    meta = read_meta(sys.argv[1])
    runs, pre = read_raw(sys.argv[2])
    out = []
    w = out.append

    cells = []
    for r in runs:
        key = (r["topo"], r["method"])
        if key not in cells:
            cells.append(key)
    targets = [t for t in ("nginx", "sidecar", "sidecar-plain") if any(r["target"] == t for r in runs)]
    have_sidecar = "sidecar" in targets
    flagged = [r for r in runs if r["flagged"]]
    # In E the load cpu runs wrk alone, well below saturation for these rates; near 100 % means
    # something else ran there too (the server cpu cannot be checked the same way: it is saturated).
    noisy = [r for r in runs if r["topo"] == "E" and r["load_busy"] > 90]
    bad_pre = [p for p in pre if p.get("target") != "upstream"
               and (p.get("status") != "200" or p.get("body") != "same")]

    w(f"# mcp-sidecar pass-through vs nginx proxy_pass: {meta.get('date_utc', '?')}, rev {meta.get('git_rev', '?')}")
    w("")
    w("Produced by `bench/http-bench.sh` (see `bench/README.md`). Both proxies forward to the same "
      "trivial nginx upstream (fixed 200-byte JSON answer); runs alternate nginx, sidecar, nginx, "
      "… so that machine drift hits both. Read the **ratios** (sidecar/nginx), taken from this one run.")
    w("")
    if meta.get("aborted"):
        note(w, f"**ABORTED:** {meta['aborted']}. The tables hold the runs done before that.")
    if "NOT IDLE" in meta.get("idle_check", ""):
        note(w, f"**⚠ The machine was not idle before the start** ({meta['idle_check']}): other work "
             "competed with the benchmark; the absolute numbers are low and noisy, the ratios less reliable.")
    if not have_sidecar:
        note(w, "**nginx only** (SIDECAR=none): a dry run of the method; no ratios.")
    if flagged:
        note(w, f"**⚠ {len(flagged)} run(s) had socket errors or non-2xx answers** (marked ⚠ below, listed "
             "under *Flagged runs*). A proxy that rejects requests is measuring its rejection path: do "
             "not quote those cells.")
    if noisy:
        note(w, f"**⚠ {len(noisy)} topology-E run(s) had the load cpu more than 90 % busy.** wrk alone "
             "should leave it well below that, so other work probably ran during the benchmark; rerun on "
             "a quiet machine before quoting those cells.")
    if bad_pre:
        note(w, "**⚠ Pre-flight:** " + "; ".join(
            f"{LABEL.get(p['target'], p['target'])} {p['method']} answered {p.get('status')} "
            f"with a body that {'matches' if p.get('body') == 'same' else 'differs from'} the upstream's"
            for p in bad_pre) + ".")

    if have_sidecar and cells:
        w("## Summary: sidecar / nginx")
        w("")
        w("Ratio of the medians; in parentheses the range of the per-pair ratios (each sidecar run "
          "against the nginx run just before it). req/s: higher is better (1.00 = as fast as nginx); "
          "p99 and CPU per request: lower is better.")
        w("")
        table_head(w, "Topology", "Method", "req/s", "p99", "server CPU per request", "flags")
        for topo, method in cells:
            ngx = [r for r in runs if r["topo"] == topo and r["method"] == method and r["target"] == "nginx"]
            side = [r for r in runs if r["topo"] == topo and r["method"] == method and r["target"] == "sidecar"]
            nflag = sum(r["flagged"] for r in ngx + side)
            notes = [f"{nflag} run(s) flagged"] if nflag else []
            nnoisy = sum(1 for r in noisy if r["method"] == method and r["topo"] == topo)
            if nnoisy:
                notes.append(f"{nnoisy} run(s) with the load cpu > 90 % busy (other work?)")
            notes += [f"pre-flight: {LABEL.get(p['target'], p['target'])} answered {p.get('status')}, "
                      f"body {p.get('body')}" for p in bad_pre if p.get("method") == method]
            mark = " ⚠" if notes else ""
            w(f"| {topo} | {METHOD.get(method, method)} | {ratio_cell(side, ngx, 'rps')[1]}{mark} | "
              f"{ratio_cell(side, ngx, 'p99_ms')[1]}{mark} | {ratio_cell(side, ngx, 'cpu_us')[1]}{mark} | "
              f"{'⚠ ' + '; '.join(notes) if notes else 'none'} |")
        w("")

    if "sidecar-plain" in targets and cells:
        w("## What MCP awareness, audit and metrics cost (OBSERVE_COST=1)")
        w("")
        w("The same binary with and without per-call awareness (`--observe false`: no JSON-RPC "
          "reading of requests and answers, no audit record and no MCP metrics per call), in this "
          "one run. Server CPU per request, median (min–max) over the runs; the ratio of the "
          "medians, in parentheses the per-pair range. The target is at most +20 %.")
        w("")
        table_head(w, "Topology", "Method", "with (µs/req)", "without (µs/req)", "cost (µs/req)",
                   "with / without", "req/s with / without")
        for topo, method in cells:
            side = [r for r in runs if r["topo"] == topo and r["method"] == method and r["target"] == "sidecar"]
            plain = [r for r in runs if r["topo"] == topo and r["method"] == method
                     and r["target"] == "sidecar-plain"]
            if not side or not plain:
                continue
            cost = median(r["cpu_us"] for r in side) - median(r["cpu_us"] for r in plain)
            w(f"| {topo} | {METHOD.get(method, method)} | {med_range([r['cpu_us'] for r in side], 'us')} | "
              f"{med_range([r['cpu_us'] for r in plain], 'us')} | {fmt(cost, 'us')} | "
              f"{ratio_cell(side, plain, 'cpu_us')[1]} | {ratio_cell(side, plain, 'rps')[1]} |")
        w("")

    w("## Results")
    w("")
    w(f"wrk `-t1 -c{meta.get('conns', '?')} -d{meta.get('duration', '?')} --latency`, "
      f"{meta.get('runs', '?')} run(s) per target and cell after a {meta.get('warmup', '?')} warm-up "
      f"per target; server cpu = cpu{meta.get('server_cpu', '?')}, load cpu = cpu{meta.get('load_cpu', '?')}. "
      "Median (min–max) over the runs. *Server CPU per request* = server-cpu busy fraction × 10⁶ / "
      "req/s, in µs: in C that is the proxy alone (plus its share of the kernel's loopback work), "
      "in E proxy + upstream.")
    for topo, method in cells:
        w("")
        w(f"### {TOPO.get(topo, topo)} — {METHOD.get(method, method)}")
        w("")
        table_head(w, "Target", "req/s", "p50 ms", "p99 ms", "server cpu busy %", "server CPU µs/req",
                   "load cpu busy %", "runs")
        per = {}
        for t in targets:
            rs = [r for r in runs if r["topo"] == topo and r["method"] == method and r["target"] == t]
            per[t] = rs
            if not rs:
                continue
            nflag = sum(r["flagged"] for r in rs)
            w(f"| {LABEL[t]} | {med_range([r['rps'] for r in rs], 'rps')} | "
              f"{med_range([r['p50_ms'] for r in rs], 'ms')} | {med_range([r['p99_ms'] for r in rs], 'ms')} | "
              f"{med_range([r['server_busy'] for r in rs], 'pct')} | {med_range([r['cpu_us'] for r in rs], 'us')} | "
              f"{med_range([r['load_busy'] for r in rs], 'pct')} | "
              f"{len(rs)}{' ⚠ ' + str(nflag) + ' flagged' if nflag else ''} |")
        if per.get("sidecar") and per.get("nginx"):
            s, n = per["sidecar"], per["nginx"]
            w(f"| **sidecar / nginx** | {ratio_cell(s, n, 'rps')[1]} | {ratio_cell(s, n, 'p50_ms')[1]} | "
              f"{ratio_cell(s, n, 'p99_ms')[1]} | | {ratio_cell(s, n, 'cpu_us')[1]} | | |")

    w("")
    w("## Flagged runs")
    w("")
    if flagged:
        table_head(w, "Topology", "Method", "Target", "Run", "req/s", "errors", "non-2xx")
        for r in flagged:
            err = "no RESULT (wrk failed)" if r["errors"] < 0 else fmt(r["errors"], "rps")
            n2 = "n/a" if r["non2xx"] < 0 else fmt(r["non2xx"], "rps")
            w(f"| {r['topo']} | {r['method']} | {LABEL.get(r['target'], r['target'])} | {r['run']} | "
              f"{fmt(r['rps'], 'rps')} | {err} | {n2} |")
        w("")
        w("`errors` are socket errors (connect, read, write, timeout); `non-2xx` is wrk's count of "
          "answers with status ≥ 400.")
    else:
        w("None: every run had 0 socket errors and 0 answers with status ≥ 400.")
    w("")
    w("## Pre-flight")
    w("")
    w("One request of each kind through each target before measuring, compared byte for byte with "
      "the upstream's own answer.")
    w("")
    table_head(w, "Target", "Method", "Status", "Body bytes", "Body vs upstream")
    for p in pre:
        w(f"| {LABEL.get(p.get('target'), p.get('target'))} | {p.get('method')} | {p.get('status')} | "
          f"{p.get('bytes')} | {p.get('body') if p.get('target') != 'upstream' else '(reference)'} |")
    w("")

    machine_table(w, ("Item", "Value"), [
        ("CPU", meta.get("cpu_model")),
        ("Cores", meta.get("cores")),
        ("Hypervisor", meta.get("virtualization") or "none reported"),
        ("Memory", meta.get("memory")),
        ("OS", f"{meta.get('os', '?')} (debian_version {meta.get('debian', '?')})"),
        ("Kernel", meta.get("kernel")),
        ("Load average at start / end", f"{meta.get('loadavg_start', '?')} / {meta.get('loadavg_end', '?')}"),
        ("CPU use before the start (1 s)", meta.get("idle_check")),
        ("nginx", meta.get("nginx")),
        ("wrk", meta.get("wrk")),
        ("gcc", meta.get("gcc")),
        ("libuv (pkg-config)", meta.get("libuv")),
        ("mcp-sidecar --version", meta.get("sidecar_version")),
        ("mcp-sidecar binary", f"{meta.get('sidecar_path')}"
         + (f" (sha256 {meta['sidecar_sha256']}…)" if meta.get("sidecar_sha256") else "")),
        ("mcp-sidecar build type", meta.get("sidecar_build_type") or ("?" if have_sidecar else "-")),
        ("git", f"{meta.get('git_rev')} (uncommitted changes: {meta.get('git_dirty')})"),
    ])
    w("")
    w("Command:")
    w("")
    fence(w, [meta.get("command", "?")], "sh")
    if meta.get("sidecar_cmd"):
        w("")
        w(f"mcp-sidecar was started as (ready via `{meta.get('sidecar_ready', '?')}`):")
        w("")
        fence(w, [meta["sidecar_cmd"]], "sh")
    w("")
    w(f"Raw wrk output and logs: `{meta.get('work_dir', '?')}` (not kept with the report).")
    w("")

    w("## Logs")
    w("")
    logs = []
    if meta.get("sidecar_log"):
        logs.append(("mcp-sidecar (--log-level warn)", meta["sidecar_log"]))
    for path in meta.get("nginx_logs", "").split():
        logs.append((f"nginx {os.path.basename(os.path.dirname(os.path.dirname(path)))}", path))
    for name, path in logs:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError:
            w(f"* {name}: `{path}` not readable")
            continue
        if not lines:
            w(f"* {name}: empty")
            continue
        w(f"* {name}: {len(lines)} line(s), last ones:")
        w("")
        fence(w, [line[:300] for line in lines[-10:]], indent="  ")
    if meta.get("sidecar_state_size"):
        w(f"* mcp-sidecar working directory after the run (state, audit trail): {meta['sidecar_state_size']}")
    w("")

    w("## Raw runs")
    w("")
    with open(sys.argv[2], encoding="utf-8") as fh:
        fence(w, [line.rstrip("\n") for line in fh if line.startswith("RUN ")])
    print("\n".join(out))


if __name__ == "__main__":
    main()
