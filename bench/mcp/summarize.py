#!/usr/bin/env python3
"""Turn the raw output of bench/mcp-bench.sh into the Markdown report.

usage: summarize.py META RAW > report.md

META  key=value lines (machine, versions, commands) written by mcp-bench.sh
RAW   the lines mcp-bench.sh printed:
      RUN phase=startup target=T run=I init_ms=.. first_call_ms=.. ok=1
      RUN phase=load|soak target=T c=C run=I rps=.. p50_ms=.. ok=.. errors=.. server_busy=.. ...
      PREFLIGHT target=T ids=unique|overlap rps=.. ok=.. errors=.. wrong_answer=..
      SAMPLE target=T n=.. t_s=.. rss_kb=.. tree_rss_kb=.. procs=..
      MEM phase=load c=C target=T when=started rss_kb=..
      IDLE when=W server_busy=.. load_busy=.. steal=.. loadavg=..
      NOTE TAG free text

Ratios are sidecar/peer: the ratio of the medians, and in parentheses the range of the per-round
ratios (run i of the sidecar against run i of the peer, taken in the same round of alternation).
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ from importing summary_lib
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from summary_lib import (  # noqa: E402 (after the path is set)
    fence, grouped, machine_table, med_range, median, note, num, parse_kv, read_meta, span,
    table_head)

LABEL = {
    "child": "stdio server alone",
    "sidecar": "mcp-sidecar",
    "mcp-proxy": "mcp-proxy",
    "supergateway": "supergateway --stateful",
}
ORDER = ["child", "sidecar", "mcp-proxy", "supergateway"]
PEERS = ["mcp-proxy", "supergateway"]

# Goals of the stdio-bridge issue.
GOAL_RATIO = 3.0        # sidecar req/s >= 3x mcp-proxy at c=16
GOAL_RATIO_C = 16
GOAL_RSS_KB = 16 * 1024  # sidecar RSS <= 16 MiB under load
GOAL_FLAT_KB = 1024      # "flat": RSS at the end of the soak within 1 MiB of RSS half-way
GOAL_STARTUP_MS = 20.0   # sidecar spawn -> first tools/call <= the server's own + 20 ms
OTHERS_MAX_S = 0.5       # cpu seconds of other processes during a run above which it is flagged

NUMERIC = ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "ok", "errors", "wrong_answer",
           "http_errors", "rpc_errors", "no_answer", "content_errors", "transport_errors", "secs",
           "setup_s", "sessions", "server_busy", "load_busy", "steal", "bridge_cpu_s", "tree_cpu_s",
           "rss_idle_kb", "rss_start_kb", "rss_end_kb", "rss_max_kb", "tree_rss_max_kb",
           "tree_rss_end_kb", "procs_max", "hwm_kb", "aborted_in_flight", "delete_failed",
           "warmup_errors", "init_ms", "first_call_ms", "stop_ms", "procs", "loadavg", "n", "t_s",
           "rss_kb", "tree_rss_kb", "c", "run", "others_s")


def numeric(d):
    for k in NUMERIC:
        if k in d:
            d[k] = num(d[k])
    return d


def read_raw(path):
    data = {"RUN": [], "PREFLIGHT": [], "SAMPLE": [], "MEM": [], "IDLE": [], "NOTE": []}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            tag, _, rest = line.partition(" ")
            if tag == "NOTE":
                key, _, text = rest.partition(" ")
                data["NOTE"].append((key, text))
            elif tag in data:
                data[tag].append(numeric(parse_kv(rest.split(), keep_bare=False)))
    return data


def mib(kb):
    return kb / 1024


def f_mib(v):
    return "n/a" if v != v else f"{mib(v):.1f}"


def f_ms(v):
    return "n/a" if v != v else f"{v:.2f}"


def f_ms1(v):
    return "n/a" if v != v else f"{v:.1f}"


def f_rps(v):
    return "n/a" if v != v else grouped(v)


def f_pct(v):
    return "n/a" if v != v else f"{v:.0f}"


def f_us(v):
    return "n/a" if v != v else f"{v:.0f}"


def f_ratio(v):
    return "n/a" if v != v else f"{v:.2f}"


def ratio(a, b):
    return a / b if (a == a and b == b and b > 0) else float("nan")


def flagged(r):
    return r.get("errors", 0) != 0 or r.get("ok", 0) <= 0


def per_req_us(r, key):
    """CPU µs per answered request: key is server_busy (percent of the window) or a cpu-seconds field."""
    ok = r.get("ok", 0)
    if ok <= 0:
        return float("nan")
    if key == "server_busy":
        return r["server_busy"] / 100 * r["secs"] * 1e6 / ok
    return r.get(key, float("nan")) * 1e6 / ok


def pair_ratio(side, peer, key, fn=None):
    """(ratio of medians, text with the per-round range) for field key (or fn(run))."""
    get = fn or (lambda r: r[key])
    med = ratio(median(get(r) for r in side), median(get(r) for r in peer))
    by_run = {r["run"]: r for r in peer}
    pairs = [ratio(get(s), get(by_run[s["run"]])) for s in side if s["run"] in by_run]
    pairs = [p for p in pairs if p == p]
    text = f"**{f_ratio(med)}**"
    if len(pairs) > 1:
        text += f" ({span(pairs, f_ratio)})"
    return med, text


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    meta = read_meta(sys.argv[1])
    raw = read_raw(sys.argv[2])
    out = []
    w = out.append

    runs = raw["RUN"]
    startup = [r for r in runs if r.get("phase") == "startup"]
    load = [r for r in runs if r.get("phase") == "load"]
    soak = [r for r in runs if r.get("phase") == "soak"]
    targets = [t for t in ORDER if t in meta.get("targets", "").split()]
    have_sidecar = "sidecar" in targets
    clist = sorted({int(r["c"]) for r in load})
    bad = [r for r in load + soak if flagged(r)]
    bad_startup = [r for r in startup if r.get("ok") != 1]
    bad_pre = [p for p in raw["PREFLIGHT"] if flagged(p)]
    idle = raw["IDLE"]
    busy_idle = [i for i in idle if i.get("server_busy", 0) > 10 or i.get("load_busy", 0) > 10]

    def cell(t, c):
        return [r for r in load if r["target"] == t and r["c"] == c]

    # ------------------------------------------------------------ head
    w(f"# mcp-sidecar as a stdio bridge vs mcp-proxy and supergateway: {meta.get('date_utc', '?')}, "
      f"rev {meta.get('git_rev', '?')}")
    w("")
    w("Produced by `bench/mcp-bench.sh` (see `bench/README.md`, *MCP stdio bridge*). Every bridge "
      "fronts the same stdio MCP server (server-everything, tool `echo`); the target under test "
      f"runs on cpu{meta.get('server_cpu', '?')}, the load tool on cpu{meta.get('load_cpu', '?')}. "
      "Load runs alternate the targets, so read the **ratios**, taken within this one run.")
    w("")
    if meta.get("quick") == "1":
        note(w, "**Quick mode** (`--quick`): one short run per cell, a small soak. This checks the "
             "machinery; do not quote these numbers.")
    if meta.get("aborted"):
        note(w, f"**ABORTED:** {meta['aborted']}. The tables hold what was measured before that.")
    if not have_sidecar:
        note(w, "**No mcp-sidecar in this run** (SIDECAR=none or not in TARGETS): the Node bridges "
             "alone, a dry run of the method; no goals are judged.")
    if "NOT IDLE" in meta.get("idle_check", "") or busy_idle:
        what = "; ".join(f"{i.get('when')}: server cpu {f_pct(i.get('server_busy'))} %, load cpu "
                         f"{f_pct(i.get('load_busy'))} % (busiest others: {i.get('others', '?')})"
                         for i in busy_idle)
        note(w, "**⚠ The machine was not idle** (before the start: "
             f"{meta.get('idle_check', '?')}{'; ' + what if what else ''}). Other work competed with "
             "the benchmark: absolute numbers are low and noisy; the ratios, from alternating runs, "
             "hold better.")
    if bad:
        note(w, f"**⚠ {len(bad)} load/soak run(s) had errors** (listed under *Flagged runs*): "
             "those numbers do not measure a working bridge.")
    if bad_pre:
        note(w, "**⚠ Pre-flight errors:** " + "; ".join(
            f"{LABEL.get(p['target'])} ids={p.get('ids')}: {int(p.get('errors', 0))} error(s), "
            f"{int(p.get('wrong_answer', 0))} answer(s) for the wrong request" for p in bad_pre) + ".")
    disturbed = [r for r in load + soak if r.get("others_s", 0) > OTHERS_MAX_S]
    if disturbed:
        note(w, f"**⚠ Other work ran during {len(disturbed)} load/soak run(s)** (more than "
             f"{OTHERS_MAX_S} cpu s charged to processes not started by the benchmark; column "
             "*others cpu s*, raw field `others`): those runs shared the machine.")
    hot = [r for r in load if r["target"] == "sidecar" and r.get("load_busy", 0) > 90]
    if hot:
        note(w, f"**⚠ In {len(hot)} sidecar run(s) the load cpu was more than 90 % busy:** the load "
             "tool (or other work on its cpu) may have been the limit, so the sidecar's req/s and "
             "its ratios are lower bounds there.")
    if bad_startup:
        note(w, f"**⚠ {len(bad_startup)} start-up sample(s) failed** (see *Notes*).")

    # ------------------------------------------------------------ goals
    if have_sidecar:
        w("## Goals")
        w("")
        table_head(w, "Goal", "Measured", "Met")
        c = GOAL_RATIO_C if GOAL_RATIO_C in clist else (clist[-1] if clist else None)
        if c is not None and cell("sidecar", c) and cell("mcp-proxy", c):
            r, text = pair_ratio(cell("sidecar", c), cell("mcp-proxy", c), "rps")
            met = "yes" if r >= GOAL_RATIO else "**no**"
            if any(flagged(x) for x in cell("sidecar", c) + cell("mcp-proxy", c)):
                met += " ⚠ errors"
            w(f"| tools/call req/s, sidecar ≥ {GOAL_RATIO:.0f}× mcp-proxy at c={GOAL_RATIO_C} | "
              f"{text}× at c={c} ({f_rps(median(x['rps'] for x in cell('sidecar', c)))} vs "
              f"{f_rps(median(x['rps'] for x in cell('mcp-proxy', c)))} req/s) | {met} |")
        else:
            w(f"| tools/call req/s, sidecar ≥ {GOAL_RATIO:.0f}× mcp-proxy at c={GOAL_RATIO_C} | not measured | – |")
        side_all = [r for r in load + soak if r["target"] == "sidecar"]
        if side_all:
            peak = max(r.get("rss_max_kb", float("nan")) for r in side_all)
            hwm = max(r.get("hwm_kb", float("nan")) for r in side_all)
            w(f"| sidecar RSS under load ≤ {mib(GOAL_RSS_KB):.0f} MiB | sampled max {f_mib(peak)} MiB "
              f"(VmHWM {f_mib(hwm)} MiB) over {len(side_all)} run(s) | "
              f"{'yes' if max(peak, hwm) <= GOAL_RSS_KB else '**no**'} |")
        samples = [s for s in raw["SAMPLE"] if s.get("target") == "sidecar"]
        soak_side = [r for r in soak if r["target"] == "sidecar"]
        if samples and soak_side:
            n_end = max(s["n"] for s in samples)
            half = min(samples, key=lambda s: abs(s["n"] - n_end / 2))
            first, last = samples[0], samples[-1]
            growth = last["rss_kb"] - half["rss_kb"]
            w(f"| sidecar RSS flat over {grouped(n_end)} requests (end within {mib(GOAL_FLAT_KB):.0f} MiB of "
              f"half-way) | {f_mib(first['rss_kb'])} MiB at 0 → {f_mib(half['rss_kb'])} at "
              f"{grouped(half['n'])} → {f_mib(last['rss_kb'])} at {grouped(last['n'])} "
              f"({'+' if growth >= 0 else ''}{growth:.0f} KiB in the second half) | "
              f"{'yes' if abs(growth) <= GOAL_FLAT_KB else '**no**'} |")
        else:
            w("| sidecar RSS flat over the soak | not measured | – |")
        ch = [r["first_call_ms"] for r in startup if r["target"] == "child" and r.get("ok") == 1]
        sc = [r["first_call_ms"] for r in startup if r["target"] == "sidecar" and r.get("ok") == 1]
        if ch and sc:
            d = median(sc) - median(ch)
            w(f"| spawn → first tools/call, sidecar ≤ server alone + {GOAL_STARTUP_MS:.0f} ms | "
              f"{f_ms1(median(sc))} vs {f_ms1(median(ch))} ms: **{'+' if d >= 0 else ''}{d:.1f} ms** "
              f"(medians) | {'yes' if d <= GOAL_STARTUP_MS else '**no**'} |")
        else:
            w(f"| spawn → first tools/call, sidecar ≤ server alone + {GOAL_STARTUP_MS:.0f} ms | not measured | – |")
        w("")

    # ------------------------------------------------------------ load
    if load:
        w("## tools/call throughput")
        w("")
        w(f"Closed loop, one MCP session and one keep-alive connection per worker (c), "
          f"{meta.get('runs', '?')} run(s) of {meta.get('duration', '?')} after a "
          f"{meta.get('warmup', '?')} warm-up per target and c, the targets alternating. Every answer "
          "is checked (status, JSON-RPC id, `Echo: <the request's own text>`). Median (min–max) over "
          "the runs. *Server cpu µs/req*: busy time of the server cpu per answer (bridge, stdio "
          "children, kernel); *bridge µs/req*: the bridge process alone. RSS: sampled every 250 ms "
          "during the measured window, the bridge alone and the whole tree (bridge + stdio children). "
          "*Others cpu s*: cpu time charged to processes the benchmark did not start, over the whole "
          "run (0 on a quiet machine).")
        for c in clist:
            w("")
            w(f"### c = {c}")
            w("")
            table_head(w, "Target", "req/s", "p50 ms", "p99 ms", "errors", "server cpu busy %",
                       "server cpu µs/req", "bridge µs/req", "load cpu busy %", "bridge RSS max MiB",
                       "tree RSS max MiB", "procs", "others cpu s", "runs")
            for t in targets:
                rs = cell(t, c)
                if not rs:
                    continue
                nflag = sum(flagged(r) for r in rs)
                w(f"| {LABEL[t]} | {med_range([r['rps'] for r in rs], f_rps, bold=True)} | "
                  f"{med_range([r['p50_ms'] for r in rs], f_ms)} | {med_range([r['p99_ms'] for r in rs], f_ms)} | "
                  f"{int(sum(max(r['errors'], 0) for r in rs))} | {med_range([r['server_busy'] for r in rs], f_pct)} | "
                  f"{med_range([per_req_us(r, 'server_busy') for r in rs], f_us)} | "
                  f"{med_range([per_req_us(r, 'bridge_cpu_s') for r in rs], f_us)} | "
                  f"{med_range([r['load_busy'] for r in rs], f_pct)} | "
                  f"{f_mib(max(r['rss_max_kb'] for r in rs))} | {f_mib(max(r['tree_rss_max_kb'] for r in rs))} | "
                  f"{int(max(r['procs_max'] for r in rs))} | "
                  f"{med_range([r.get('others_s', float('nan')) for r in rs], lambda v: f'{v:.1f}')} | "
                  f"{len(rs)}{' ⚠ ' + str(nflag) + ' flagged' if nflag else ''} |")
            if have_sidecar and cell("sidecar", c):
                for p in PEERS:
                    if not cell(p, c):
                        continue
                    s, q = cell("sidecar", c), cell(p, c)
                    w(f"| **sidecar / {p}** | {pair_ratio(s, q, 'rps')[1]} | {pair_ratio(s, q, 'p50_ms')[1]} | "
                      f"{pair_ratio(s, q, 'p99_ms')[1]} | | | "
                      f"{pair_ratio(s, q, None, lambda r: per_req_us(r, 'server_busy'))[1]} | "
                      f"{pair_ratio(s, q, None, lambda r: per_req_us(r, 'bridge_cpu_s'))[1]} | | | | | | |")
        w("")
        w("Session set-up before each run (not measured; supergateway spawns one stdio server per "
          "session): " + "; ".join(
              f"{LABEL[t]} c={c}: {med_range([r['setup_s'] for r in cell(t, c)], lambda v: f'{v:.2f} s')}"
              for c in clist for t in targets if cell(t, c)) + ".")
        w("")

    # ------------------------------------------------------------ soak
    if soak:
        w("## RSS over a long run (soak)")
        w("")
        w("Each target started fresh and alone, then the given number of tools/call at "
          f"c={int(soak[0]['c'])} (one session per worker). *After start*: RSS once it answered "
          "initialize, before the load's sessions; then at every tenth of the requests. "
          "*Sampled max* covers every 250 ms of the run; VmHWM is the kernel's high-water mark.")
        w("")
        samples = raw["SAMPLE"]
        table_head(w, "Target", "requests", "req/s", "errors", "after start MiB", "0 MiB", "half-way MiB",
                   "end MiB", "sampled max MiB", "VmHWM MiB", "tree at end MiB", "procs", "others cpu s")
        for t in targets:
            rs = [r for r in soak if r["target"] == t]
            if not rs:
                continue
            r = rs[0]
            ss = [s for s in samples if s.get("target") == t]
            n_end = max((s["n"] for s in ss), default=0)
            half = min(ss, key=lambda s: abs(s["n"] - n_end / 2)) if ss else {}
            w(f"| {LABEL[t]} | {grouped(r['ok'] + max(r['errors'], 0))} | {f_rps(r['rps'])} | "
              f"{int(r['errors'])}{' ⚠' if flagged(r) else ''} | {f_mib(r.get('rss_idle_kb', float('nan')))} | "
              f"{f_mib(ss[0]['rss_kb']) if ss else 'n/a'} | {f_mib(half.get('rss_kb', float('nan')))} "
              f"({grouped(half.get('n', 0))}) | {f_mib(ss[-1]['rss_kb']) if ss else 'n/a'} | "
              f"{f_mib(r['rss_max_kb'])} | {f_mib(r['hwm_kb'])} | {f_mib(r['tree_rss_end_kb'])} | "
              f"{int(r['procs_max'])} | {r.get('others_s', float('nan')):.1f} |")
        w("")
        w("RSS of the bridge process (MiB) against answered requests:")
        w("")
        ts = [t for t in targets if any(s.get("target") == t for s in samples)]
        if ts:
            ns = sorted({int(s["n"]) for s in samples})
            table_head(w, "requests", *(f"{LABEL[t]} (t s)" for t in ts))
            for n in ns:
                cells = []
                for t in ts:
                    m = [s for s in samples if s.get("target") == t and int(s["n"]) == n]
                    cells.append(f"{f_mib(m[0]['rss_kb'])} ({m[0]['t_s']:.1f})" if m else "")
                w(f"| {grouped(n)} | " + " | ".join(cells) + " |")
            w("")

    # ------------------------------------------------------------ startup
    if startup:
        w("## Spawn → first answered tools/call")
        w("")
        w("From `spawn()` to the answer of the first `tools/call` (the timer on the load cpu, the "
          "command pinned to the server cpu; rounds alternate the targets). *stdio server alone*: "
          "initialize written to its stdin at once, notifications/initialized and tools/call as soon "
          "as initialize is answered. Bridges: POST initialize every 2 ms until one is answered, then "
          "notifications/initialized and tools/call on that session, each a new connection (so up to "
          "≈2 ms is polling granularity). The sidecar starts with an empty state directory each time. "
          "*+ vs alone*: the difference of medians, in parentheses the range of the per-round "
          "differences.")
        w("")
        table_head(w, "Target", "samples", "initialize answered ms", "first tools/call answered ms",
                   "+ vs alone ms")
        ch = {r["run"]: r for r in startup if r["target"] == "child" and r.get("ok") == 1}
        for t in ORDER:
            rs = [r for r in startup if r["target"] == t and r.get("ok") == 1]
            if not rs and not any(r["target"] == t for r in startup):
                continue
            nfail = sum(1 for r in startup if r["target"] == t and r.get("ok") != 1)
            diff = ""
            if t != "child" and rs and ch:
                d = median(r["first_call_ms"] for r in rs) - median(r["first_call_ms"] for r in ch.values())
                per = [r["first_call_ms"] - ch[r["run"]]["first_call_ms"] for r in rs if r["run"] in ch]
                diff = f"**{'+' if d >= 0 else ''}{d:.1f}**" + (f" ({span(per, lambda v: f'{v:+.1f}')})" if len(per) > 1 else "")
            w(f"| {LABEL[t]} | {len(rs)}{' ⚠ ' + str(nfail) + ' failed' if nfail else ''} | "
              f"{med_range([r['init_ms'] for r in rs], f_ms1)} | "
              f"{med_range([r['first_call_ms'] for r in rs], f_ms1, bold=True)} | {diff} |")
        w("")

    # ------------------------------------------------------------ correctness
    if raw["PREFLIGHT"]:
        w("## Pre-flight: answers to the right request")
        w("")
        w("Before the first load, 1 s at c=4 per target: *unique* ids across the sessions, then "
          "*overlap*: every session numbers its requests 1, 2, 3, … (legal, ids are per session), "
          "which a bridge multiplexing sessions onto one stdio child must keep apart. An answer "
          "carrying another id, or the right id with another request's text, counts as *wrong*.")
        w("")
        table_head(w, "Target", "ids", "answers", "errors", "wrong request", "first error")
        notes = dict(raw["NOTE"])
        for p in raw["PREFLIGHT"]:
            e = notes.get(f"preflight-{p['target']}-{p.get('ids')}", "")
            w(f"| {LABEL.get(p['target'], p['target'])} | {p.get('ids')} | {grouped(p.get('ok', 0))} | "
              f"{int(p.get('errors', 0))} | {int(p.get('wrong_answer', 0))} | {e[:120].replace('|', '/')} |")
        w("")

    # ------------------------------------------------------------ flags
    w("## Flagged runs")
    w("")
    if bad:
        table_head(w, "Phase", "Target", "c", "Run", "answers", "errors", "wrong request", "HTTP",
                   "JSON-RPC", "no answer", "transport")
        for r in bad:
            w(f"| {r['phase']} | {LABEL.get(r['target'], r['target'])} | {int(r['c'])} | {int(r['run'])} | "
              f"{grouped(r.get('ok', 0))} | {int(r.get('errors', 0))} | {int(r.get('wrong_answer', 0))} | "
              f"{int(r.get('http_errors', 0))} | {int(r.get('rpc_errors', 0))} | {int(r.get('no_answer', 0))} | "
              f"{int(r.get('transport_errors', 0))} |")
    else:
        w("None: every load and soak run had 0 errors.")
    w("")
    if raw["NOTE"]:
        w("## Notes")
        w("")
        w("First error of each run that had one, and anything else the script noted:")
        w("")
        fence(w, [f"{k}: {v}"[:400] for k, v in raw["NOTE"]])
        w("")

    # ------------------------------------------------------------ machine
    machine_table(w, ("Item", "Value"), [
        ("CPU", meta.get("cpu_model")),
        ("Cores", meta.get("cores")),
        ("Hypervisor", meta.get("virtualization") or "none reported"),
        ("Memory", meta.get("memory")),
        ("OS", f"{meta.get('os', '?')} (debian_version {meta.get('debian', '?')})"),
        ("Kernel", meta.get("kernel")),
        ("Load average at start / end", f"{meta.get('loadavg_start', '?')} / {meta.get('loadavg_end', '?')}"),
        ("CPU use before the start (1 s)", meta.get("idle_check")),
        ("CPU use before each phase (1 s, targets idle)", "; ".join(
            f"{i.get('when')}: {f_pct(i.get('server_busy'))}/{f_pct(i.get('load_busy'))} %"
            + (f" ({i['others']})" if i.get("others", "none") != "none" else "") for i in idle)
         + " (server/load cpu; in parentheses the processes not ours charged the most cpu seconds "
           "in that second)" if idle else "-"),
        ("Node (runs mcp-proxy, supergateway, every stdio server and the load tools)", meta.get("node")),
        ("npm", meta.get("npm")),
        ("server-everything", meta.get("server_everything")),
        ("mcp-proxy", meta.get("mcp_proxy")),
        ("supergateway", meta.get("supergateway")),
        ("MCP SDK packages under the peers", meta.get("sdk_in_peers")),
        ("mcp-sidecar --version", meta.get("sidecar_version")),
        ("mcp-sidecar binary", f"{meta.get('sidecar_path')}"
         + (f" (sha256 {meta['sidecar_sha256']}…)" if meta.get("sidecar_sha256") else "")),
        ("mcp-sidecar build type", meta.get("sidecar_build_type") or "-"),
        ("git", f"{meta.get('git_rev')} (uncommitted changes: {meta.get('git_dirty')})"),
    ])
    w("")
    w("Command:")
    w("")
    fence(w, [meta.get("command", "?")], "sh")
    w("")
    w("Targets, as started (each with its working directory in the work dir):")
    w("")
    fence(w, [f"{t}: {meta[f'cmd_{t}']}" for t in ["child"] + targets if f"cmd_{t}" in meta], "sh")
    w("")
    w(f"Load: `node bench/mcp/mcp-load.mjs --url URL -c C --duration S --warmup W` on cpu"
      f"{meta.get('load_cpu', '?')}; start-up: `node bench/mcp/mcp-startup.mjs (--stdio | --url URL) -- "
      "COMMAND`; soak: `mcp-load.mjs --requests N`.")
    w("")
    w(f"Raw output and logs: `{meta.get('work_dir', '?')}` (not kept with the report); "
      f"sidecar state directory after the run: {meta.get('sidecar_state_size') or '-'}.")
    w("")
    w("## Raw runs")
    w("")
    with open(sys.argv[2], encoding="utf-8") as fh:
        fence(w, [line.rstrip("\n") for line in fh
                  if line.startswith(("RUN ", "PREFLIGHT ", "IDLE ", "MEM "))])
    print("\n".join(out))


if __name__ == "__main__":
    main()
