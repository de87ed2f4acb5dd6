#!/usr/bin/env python3
"""Helper of scripts/soak.sh: samples memory while the soak runs, then reports and plots it.

  soak.py sample CSV WORK INGEST_PID VALIDATOR_PID BROKER_PID INGEST_URL VALIDATOR_URL TIMEOUT_S
      Every second one row: t_s, ingest_rss_mb, validator_rss_mb, broker_rss_mb (VmRSS of
      /proc/PID/status), ingested (the ingest's playstream_ingest_events_produced_total) and
      landed (the validator's playstream_records_accepted_total + playstream_records_rejected_total).
      Stops once WORK/sent exists ("EVENTS SECONDS", written by soak.sh when every loadgen is done;
      EVENTS counts the backlog too) and landed >= EVENTS, or after TIMEOUT_S, or when a process exits. Exit 0 only in the first case.
  soak.py report CSV EVENTS SEND_SECONDS PNG [LIMIT_MB [BACKLOG]]
      Prints the curve at ten evenly spaced points, min/max/final per process, throughput and the
      checks (PASS/FAIL); writes the PNG. Exit 1 if a check fails. EVENTS: the live events sent
      through the ingest; BACKLOG (0): events already on the raw topic when the validator started
      (WORK/sent then holds BACKLOG + EVENTS).

The run starts at ingest's first acknowledged event; with a backlog, at the validator's start
(the first sample), and the report adds the catch-up: the time until landed >= BACKLOG and the
validator's peak RSS until then. "Flat": after a warm-up (the first 10 % of
the run's samples), the highest RSS of the second half of the samples is at most 20 % above the
highest RSS of the first half.
"""
import pathlib
import sys
import time
import urllib.request

PROCS = ("ingest", "validator", "broker")
WARMUP, FLAT_TOLERANCE = 0.10, 0.20


def rss_mb(pid: str) -> float:
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return -1.0


def counter(url: str, names: tuple[str, ...]) -> int:
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return -1
    total = 0.0
    for line in text.splitlines():
        if line.split("{", 1)[0].split(" ", 1)[0] in names:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def sample(csv, work, ingest, validator, broker, ingest_url, validator_url, timeout) -> int:
    pids, sent_file = (ingest, validator, broker), pathlib.Path(work) / "sent"
    started, want = time.monotonic(), None
    with open(csv, "w") as out:
        out.write("t_s,ingest_rss_mb,validator_rss_mb,broker_rss_mb,ingested,landed\n")
        while True:
            t = time.monotonic() - started
            rss = [rss_mb(p) for p in pids]
            ingested = counter(ingest_url, ("playstream_ingest_events_produced_total",))
            landed = counter(validator_url, ("playstream_records_accepted_total",
                                             "playstream_records_rejected_total"))
            out.write(f"{t:.1f},{rss[0]:.1f},{rss[1]:.1f},{rss[2]:.1f},{ingested},{landed}\n")
            out.flush()
            if want is None and sent_file.exists():
                want = int(sent_file.read_text().split()[0])
            if want is not None and landed >= want:
                return 0
            for name, r in zip(PROCS, rss):
                if r < 0:
                    print(f"soak: {name} is gone (t={t:.0f} s)", file=sys.stderr)
                    return 1
            if t > timeout:
                print(f"soak: timed out after {timeout:.0f} s: landed {landed} of {want}", file=sys.stderr)
                return 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started - t)))


def load(csv):
    lines = pathlib.Path(csv).read_text().splitlines()
    head = lines[0].split(",")
    rows = [dict(zip(head, map(float, line.split(",")))) for line in lines[1:]]
    return [r for r in rows if min(r[f"{p}_rss_mb"] for p in PROCS) >= 0]


def flat(values):
    """(first-half max, second-half max, ok) after the warm-up."""
    v = values[int(len(values) * WARMUP):]
    if len(v) < 4:
        return 0.0, 0.0, False
    a, b = max(v[: len(v) // 2]), max(v[len(v) // 2:])
    return a, b, b <= a * (1 + FLAT_TOLERANCE)


def report(csv, events, send_seconds, png, limit_mb=200.0, backlog=0) -> int:
    rows = load(csv)
    live, events = events, events + backlog
    if backlog:  # the run starts with the validator, already `backlog` events behind
        first = 0 if rows else None
    else:
        # The run starts at the last sample before ingest's first acknowledged event (loadgen
        # generates its first chunk before it sends anything); t is seconds since then.
        first = next((i for i, r in enumerate(rows) if r["ingested"] > 0), None)
    if first is None:
        print("soak: no event was ingested", file=sys.stderr)
        return 1
    rows = rows[max(0, first - 1):]
    t0 = rows[0]["t_s"]
    for r in rows:
        r["t_s"] -= t0
    wall = rows[-1]["t_s"]
    in_done = next((r["t_s"] for r in rows if r["ingested"] >= live), wall)
    print(f"\nRSS (MB) at ten evenly spaced points of the run ({len(rows)} samples, 1 s apart):")
    print(f"{'t (s)':>8} {'ingest':>8} {'validator':>10} {'broker':>8} {'ingested':>11} {'landed':>11}")
    for i in range(10):
        r = rows[round(i * (len(rows) - 1) / 9)]
        print(f"{r['t_s']:8.0f} {r['ingest_rss_mb']:8.1f} {r['validator_rss_mb']:10.1f} "
              f"{r['broker_rss_mb']:8.1f} {r['ingested']:11.0f} {r['landed']:11.0f}")
    print(f"\n{'process':<10} {'min':>8} {'max':>8} {'final':>8}   (MB)")
    for p in PROCS:
        v = [r[f"{p}_rss_mb"] for r in rows]
        print(f"{p:<10} {min(v):8.1f} {max(v):8.1f} {v[-1]:8.1f}")
    landed = rows[-1]["landed"]
    caught = None
    if backlog:
        caught = next((r["t_s"] for r in rows if r["landed"] >= backlog), None)
        during = [r for r in rows if caught is None or r["t_s"] <= caught]
        peak = max(during, key=lambda r: r["validator_rss_mb"])
        after = [backlog + max(r["ingested"], 0) - r["landed"]
                 for r in rows if caught is not None and r["t_s"] > caught]
        print(f"\nCatch-up: the validator started {backlog:,} events behind (already on the raw topic); "
              + (f"landed >= {backlog:,} after {caught:.0f} s ({backlog / max(caught, 1):,.0f} events/s)"
                 if caught is not None else "it never landed them")
              + f"; its peak RSS until then {peak['validator_rss_mb']:.1f} MB (at {peak['t_s']:.0f} s)"
              + (f"; afterwards at most {max(after):,.0f} events behind" if after else ""))
    if not backlog:
        print(f"\n{events:,} events sent; loadgen ran {send_seconds:.0f} s (its generation included). "
              f"From the first ingested event: all ingested after {in_done:.0f} s "
              f"({events / max(in_done, 1):,.0f} events/s), {landed:,.0f} landed after {wall:.0f} s "
              f"({landed / max(wall, 1):,.0f} events/s end to end)")
    elif live:
        print(f"{live:,} live events sent; loadgen ran {send_seconds:.0f} s (its generation included). "
              f"From the validator's start: all ingested after {in_done:.0f} s "
              f"({live / max(in_done, 1):,.0f} events/s)")
    if backlog:
        print(f"Backlog + live: {landed:,.0f} of {events:,} landed after {wall:.0f} s "
              f"({landed / max(wall, 1):,.0f} events/s end to end)")
    checks = [(f"all {events:,} events landed (accepted + rejected)", landed >= events)]
    for p in ("ingest", "validator"):
        v = [r[f"{p}_rss_mb"] for r in rows]
        checks.append((f"{p} RSS max {max(v):.1f} MB < {limit_mb:.0f} MB", max(v) < limit_mb))
        a, b, ok = flat(v)
        checks.append((f"{p} RSS flat: max of second half {b:.1f} MB <= max of first half {a:.1f} MB "
                       f"+ {FLAT_TOLERANCE:.0%} (after {WARMUP:.0%} warm-up)", ok))
    print()
    for what, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
    plot(rows, png, limit_mb, events, wall, backlog, caught)
    print(f"\nplot: {png}")
    return 0 if all(ok for _, ok in checks) else 1


def plot(rows, png, limit_mb, events, wall, backlog=0, caught=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    t = [r["t_s"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for p in PROCS:
        ax.plot(t, [r[f"{p}_rss_mb"] for r in rows], label=p, linewidth=1.2)
    ax.axhline(limit_mb, color="grey", linestyle="--", linewidth=0.8, label=f"{limit_mb:.0f} MB limit")
    if caught is not None:
        ax.axvline(caught, color="black", linestyle=":", linewidth=0.8, label=f"backlog landed ({caught:.0f} s)")
    lo = min(min(r[f"{p}_rss_mb"] for p in PROCS) for r in rows)
    hi = max(limit_mb, max(max(r[f"{p}_rss_mb"] for p in PROCS) for r in rows))
    ax.set_yscale("log")
    ax.set_ylim(lo * 0.8, hi * 1.25)
    ax.set_yticks([v for v in (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000) if lo * 0.8 <= v <= hi * 1.25])
    ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("seconds since the validator started" if backlog else "seconds since the first event was ingested")
    ax.set_ylabel("VmRSS (MB, log scale)")
    behind = f" (validator started {backlog:,} behind)" if backlog else ""
    ax.set_title(f"playstream soak: {events:,} events{behind}, {wall:.0f} s")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(png)


def main() -> int:
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sample":
        return sample(*args[:7], float(args[7]))
    if cmd == "report":
        return report(args[0], int(args[1]), float(args[2]), args[3], *map(float, args[4:5]), *map(int, args[5:6]))
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
