#!/usr/bin/env python3
"""Turns load/bench.sh's creo-load reports into the markdown table BENCHMARKS.md quotes:
creo's figures next to the reference server's from the same run, as ratios."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])


def report(name):
    p = out / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    return f"{v:,.2f}{unit}" if v < 100 else f"{v:,.0f}{unit}"


rows = []


def row(scenario, metric, creo, ref, target="", lower_is_better=True):
    ratio = None
    if isinstance(creo, (int, float)) and isinstance(ref, (int, float)) and ref:
        ratio = creo / ref
    rows.append((scenario, metric, fmt(creo), fmt(ref), f"{ratio:.2f}x" if ratio else "n/a", target))


def get(r, *path):
    for k in path:
        if r is None:
            return None
        r = r.get(k)
    return r


for s, label in [("S1", "S1 50 editors, 1 doc"), ("S2", "S2 100 docs x 4 editors")]:
    c, r = report(f"{s}-creo"), report(f"{s}-ref")
    if not c and not r:
        continue
    row(label, "deliveries/s", get(c, "deliveries_per_second"), get(r, "deliveries_per_second"))
    row(label, "latency p50 (ms)", get(c, "latency_ms", "p50"), get(r, "latency_ms", "p50"))
    row(label, "latency p99 (ms)", get(c, "latency_ms", "p99"), get(r, "latency_ms", "p99"),
        "<= 5 ms" if s == "S1" else "")
    row(label, "server CPU per delivery (us)", get(c, "server", "cpu_us_per_delivery"),
        get(r, "server", "cpu_us_per_delivery"), "<= 0.33x")
    row(label, "server RSS per editor (KiB)", get(c, "server", "rss_per_connection_kib"),
        get(r, "server", "rss_per_connection_kib"))

def bucket_p99_ms(r, histogram):
    """The upper bound of the bucket holding the 99th percentile, over the measured window."""
    counts = get(r, "server_counters") or {}
    buckets = sorted(
        (float(k.split('le="')[1].rstrip('"}')), v)
        for k, v in counts.items()
        if k.startswith(histogram + "_bucket") and 'le="+Inf"' not in k
    )
    total = counts.get(histogram + "_count")
    if not total:
        return None
    for le, n in buckets:
        if n >= 0.99 * total:
            return f"<= {le * 1000:g}"
    return "> 5000"


# The durable commit's share: S1 on the same disk as the table above, and with creo's data on
# tmpfs (S1T), where the fsync costs next to nothing.
for name, label in [("S1", "S1 on disk"), ("S1T", "S1 on tmpfs")]:
    c = report(f"{name}-creo")
    if c:
        row(label, "latency p99 (ms)", get(c, "latency_ms", "p99"), get(report("S1-ref"), "latency_ms", "p99"),
            "<= 5 ms" if name == "S1T" else "")
        row(label, "store commit incl. fsync, p99 (ms)", bucket_p99_ms(c, "creo_store_commit_seconds"), None)

c, r = report("S3-creo"), report("S3-ref")
if c or r:
    row("S3 10,000 idle editors", "server RSS per connection (KiB)",
        get(c, "server", "rss_per_connection_kib"), get(r, "server", "rss_per_connection_kib"),
        "<= 10 KiB")
    row("S3 10,000 idle editors", "connect p99 (ms)", get(c, "connect_ms", "p99"),
        get(r, "connect_ms", "p99"))

# A server may answer the first sync before it has loaded the document and send the content
# afterwards, so S4 compares the time to the first content, and shows the first sync beside it.
def content(name):
    r = report(name)
    if r is None:
        return None
    if r["first_content_ms"]["count"] == 0:
        return "never, within the run"
    return r["first_content_ms"]["p50"]


cold = {k: content(f"S4-cold-{k}") for k in ["creo", "ref"]}
warm = {k: content(f"S4-warm-{k}") for k in ["creo", "ref"]}
if any(cold.values()):
    row("S4 20,000-edit document", "first sync answered, cold (ms)",
        get(report("S4-cold-creo"), "first_sync_ms", "p50"),
        get(report("S4-cold-ref"), "first_sync_ms", "p50"))
    row("S4 20,000-edit document", "content arrived, cold (ms)", cold["creo"], cold["ref"])
    row("S4 20,000-edit document", "content arrived, warm (ms)", warm["creo"], warm["ref"])
    diff = {k: (cold[k] - warm[k]) if all(isinstance(v, float) for v in (cold[k], warm[k]))
            else None for k in cold}
    row("S4 20,000-edit document", "cold minus warm (ms)", diff["creo"], diff["ref"], "<= 10 ms")


def s5(kind):
    best, best_p99, worst = None, None, None
    for p in sorted(out.glob(f"S5-*-{kind}.json"), key=lambda p: int(p.name.split("-")[1])):
        r = json.loads(p.read_text())
        n = r["clients"]
        ok = (r["latency_ms"]["p99"] <= 50 and not r["errors"]
              and r["convergence"]["converged"] == r["convergence"]["documents"])
        if ok:
            best, best_p99 = n, r["latency_ms"]["p99"]
        else:
            worst = (n, r["latency_ms"]["p99"], r["errors"])
    return best, best_p99, worst


c5, r5 = s5("creo"), s5("ref")
if c5[0] or r5[0] or c5[2] or r5[2]:
    row("S5 most editors at p99 <= 50 ms", "editors held", c5[0], r5[0], ">= 10,000")
    row("S5 most editors at p99 <= 50 ms", "p99 at that level (ms)", c5[1], r5[1])

f = report("F")
if f:
    s1_ref = get(report("S1-ref"), "server", "cpu_us_per_delivery")
    line = (f"Floor (F): one small write to a loopback socket read by another process costs "
            f"{f['loopback_write_cpu_us']:.2f} µs of CPU; one 4 KiB write + fdatasync "
            f"{f['fdatasync_cpu_us']:.0f} µs (p50 {f['fdatasync_ms']['p50']:.2f} ms).")
    if s1_ref:
        line += (f" A third of the reference's S1 CPU per delivery is {s1_ref / 3:.2f} µs: "
                 f"{s1_ref / 3 / f['loopback_write_cpu_us']:.2f}x the floor of one write per delivery.")
    print(line + "\n")

t = report("T-creo")
if t:
    tool = t["tool"]
    print(f"Load tool capacity (T): one thread drove {t['deliveries_per_second']:,.0f} deliveries/s "
          f"at {tool['utilisation'] * 100:.0f}% busy: "
          f"{tool['deliveries_per_cpu_second'] or 0:,.0f} deliveries per CPU-second "
          f"(target >= 50,000).\n")

cluster_rows = []
for s, label in [("C1", "C1 100 docs x 2 editors, editors on different nodes"),
                 ("C2", "C2 1 doc x 50 editors at 10 edits/s, split over 2 nodes")]:
    one, two = report(f"{s}-creo"), report(f"{s}-cluster")
    if not one and not two:
        continue
    for metric, path in [("deliveries/s", ("deliveries_per_second",)),
                         ("latency p50 (ms)", ("latency_ms", "p50")),
                         ("latency p99 (ms)", ("latency_ms", "p99")),
                         ("server CPU per delivery, all nodes (us)", ("server", "cpu_us_per_delivery"))]:
        a, b = get(one, *path), get(two, *path)
        ratio = f"{b / a:.2f}x" if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a else "n/a"
        cluster_rows.append((label, metric, fmt(a), fmt(b), ratio))
    conv = get(two, "convergence")
    if conv:
        cluster_rows.append((label, "documents converged (cluster)", "",
                             f"{conv['converged']}/{conv['documents']}", ""))

if rows:
    print("| Scenario | Metric | creo | reference | creo / reference | target |")
    print("|---|---|---:|---:|---:|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
for kind, (_, _, worst) in [("creo", c5), ("reference", r5)]:
    if worst:
        n, p99, errors = worst
        print(f"\nS5 {kind}: the first level it did not hold was {n:,} editors "
              f"(p99 {p99:,.1f} ms, errors {errors or 'none'}).")

if cluster_rows:
    print("\n| Cluster scenario | Metric | one node | two nodes + Redis | two / one |")
    print("|---|---|---:|---:|---:|")
    for r in cluster_rows:
        print("| " + " | ".join(r) + " |")
