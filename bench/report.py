"""Derived figures and the three outputs: results.json, results.md, rps.png.

Derived here from the raw rows: added p50 over direct (same request shape and
concurrency), the ratios gatehouse/passthrough and gatehouse/litellm, and the
targets of bench/README.md.

Also runnable on its own, to re-render results.md and rps.png from a
results.json: ``python bench/report.py docs/benchmarks/results.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

__all__ = ["derive", "write", "one_line", "render_markdown", "draw_chart"]

CHART_CONCURRENCY = 64
# Gatehouse RPS as a share of the pass-through proxy's, at c=64.
# big-*: a 100 KB prompt, against the pass-through on the same request (issue 13).
PASSTHROUGH_TARGETS = {"plain": 0.50, "hooks": 0.45, "guardrail": 0.45, "stream": 0.50,
                       "big": 0.90, "big-hooks": 0.85, "big-guardrail": 0.65}
PROVIDER_TARGETS = {"anthropic": ("plain", 0.70), "anthropic-stream": ("stream", 0.60),
                    "bedrock": ("plain", 0.70), "bedrock-stream": ("stream", 0.60),
                    "long-stream-guarded": ("long-stream", 0.50)}
SPEND_LOG_TARGETS = {"vkey": ("vkey-nolog", 0.90)}  # spend logs cost at most 10 % of RPS
LITELLM_TARGET = 20.0            # every scenario, at c=64
ADDED_P50_TARGET_MS = 0.5        # at c=1; not judged for guardrail (it adds a network hop by design)
RSS_TARGET_MB = 80.0             # per process of the gateway's tree
READY_TARGET_S = 1.0
SYSTEM_ORDER = ("direct", "passthrough", "gatehouse", "gatehouse-w2", "litellm")


def _ok(row: dict) -> bool:
    return not row.get("error") and row.get("rps") is not None


def _index(rows: list[dict]) -> dict[tuple[str, str, int], dict]:
    return {(r["system"], r["scenario"], r["concurrency"]): r for r in rows if _ok(r)}


def _baseline(index: dict, system: str, row: dict) -> dict | None:
    return index.get((system, row["shape"], row["concurrency"]))


def _ratio(a: dict | None, b: dict | None, key: str = "rps") -> float | None:
    if a is None or b is None or not b.get(key) or a.get(key) is None:
        return None
    return round(a[key] / b[key], 3)


def _add_latency(rows: list[dict], index: dict) -> None:
    for row in rows:
        direct = _baseline(index, "direct", row) if _ok(row) else None
        row["added_p50_ms"] = round(row["p50_ms"] - direct["p50_ms"], 3) if direct else None


def _ratios(rows: list[dict], index: dict) -> list[dict]:
    out = []
    for row in rows:
        if row["kind"] != "gatehouse" or not _ok(row):
            continue
        passthrough = _baseline(index, "passthrough", row)
        out.append({"system": row["system"], "scenario": row["scenario"], "concurrency": row["concurrency"],
                    "over_passthrough": _ratio(row, passthrough),
                    "over_litellm": _ratio(row, index.get(("litellm", row["scenario"], row["concurrency"]))),
                    # CPU per request of passthrough ÷ gatehouse: the RPS share the CPU cost predicts
                    "cpu_share_of_passthrough": _ratio(passthrough, row, "cpu_ms_per_req")})
    return out


def _target(name: str, value: float | None, limit: float, higher_is_better: bool, unit: str = "") -> dict:
    if value is None:
        status = "n/a"
    else:
        status = "PASS" if (value >= limit if higher_is_better else value <= limit) else "FAIL"
    sign = "≥" if higher_is_better else "≤"
    return {"target": f"{name} {sign} {limit:g}{unit}", "measured": value, "status": status}


def _targets(results: dict, ratios: list[dict], index: dict) -> list[dict]:
    at = {(r["scenario"], r["concurrency"]): r for r in ratios if r["system"] == "gatehouse"}
    out = []
    for scenario, share in PASSTHROUGH_TARGETS.items():
        value = at.get((scenario, CHART_CONCURRENCY), {}).get("over_passthrough")
        out.append(_target(f"{scenario}: gatehouse/passthrough RPS at c={CHART_CONCURRENCY}", value, share, True))
    for scenario in results["meta"]["scenarios"]:
        value = at.get((scenario, CHART_CONCURRENCY), {}).get("over_litellm")
        out.append(_target(f"{scenario}: gatehouse/litellm RPS at c={CHART_CONCURRENCY}", value, LITELLM_TARGET,
                           True, "×"))
    for scenario in results["meta"]["scenarios"]:
        if "guard" not in scenario:  # a guardrail adds a network hop by design
            row = index.get(("gatehouse", scenario, 1))
            value = row.get("added_p50_ms") if row else None
            out.append(_target(f"{scenario}: gatehouse added p50 at c=1", value, ADDED_P50_TARGET_MS, False, " ms"))
    return out + _provider_targets(index) + _resource_targets(results)


def _provider_targets(index: dict) -> list[dict]:
    out = []
    for scenario, (own, share) in {**PROVIDER_TARGETS, **SPEND_LOG_TARGETS}.items():
        value = _ratio(index.get(("gatehouse", scenario, CHART_CONCURRENCY)),
                       index.get(("gatehouse", own, CHART_CONCURRENCY)))
        if value is not None:
            out.append(_target(f"{scenario}: gatehouse RPS ÷ gatehouse {own} RPS at c={CHART_CONCURRENCY}",
                               value, share, True))
    return out


def _resource_targets(results: dict) -> list[dict]:
    gh = [r for r in results["rows"] if r["system"] == "gatehouse" and r.get("rss_after_mb")]
    rss = max((r["rss_after_mb"] / max(r["procs"], 1) for r in gh), default=None)
    ready = [s["ready_s"] for s in results["startups"] if s["system"] == "gatehouse" and s["ready_s"] is not None]
    return [_target("gatehouse RSS per process (max over cells)", round(rss, 1) if rss else None,
                    RSS_TARGET_MB, False, " MB"),
            _target("gatehouse spawn → ready (max)", max(ready, default=None), READY_TARGET_S, False, " s")]


def derive(results: dict) -> dict:
    """Add added_p50_ms to each row, and the ``ratios`` and ``targets`` lists."""
    index = _index(results["rows"])
    _add_latency(results["rows"], index)
    index = _index(results["rows"])
    results["ratios"] = _ratios(results["rows"], index)
    results["targets"] = _targets(results, results["ratios"], index)
    return results


# -- markdown --------------------------------------------------------------------------

def _fmt(value: object, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _systems(results: dict) -> list[str]:
    present = {r["system"] for r in results["rows"]}
    return [s for s in SYSTEM_ORDER if s in present]


def _cells_at(results: dict, scenario: str, c: int) -> list[dict | None]:
    """One row per system for ``scenario`` at ``c``; baselines give their row of the same shape."""
    index = _index(results["rows"])
    shape = next((r["shape"] for r in results["rows"] if r["scenario"] == scenario), "plain")
    return [index.get((s, shape if s in ("direct", "passthrough") else scenario, c)) for s in _systems(results)]


def _summary(results: dict, c: int) -> list[str]:
    ratios = {(r["system"], r["scenario"], r["concurrency"]): r for r in results["ratios"]}
    rows = []
    for scenario in results["meta"]["scenarios"]:
        ratio = ratios.get(("gatehouse", scenario, c), {})
        rows.append([scenario] + [_fmt(x["rps"], 0) if x else "–" for x in _cells_at(results, scenario, c)]
                    + [_fmt(ratio.get("over_passthrough")), _fmt(ratio.get("over_litellm"), 1)])
    return _table(["scenario", *_systems(results), "gatehouse / passthrough", "gatehouse / litellm"], rows)


def _cpu_summary(results: dict, c: int) -> list[str]:
    ratios = {(r["system"], r["scenario"], r["concurrency"]): r for r in results["ratios"]}
    rows = []
    for scenario in results["meta"]["scenarios"]:
        ratio = ratios.get(("gatehouse", scenario, c), {})
        rows.append([scenario] + [_fmt(x.get("cpu_ms_per_req"), 3) if x else "–"
                                  for x in _cells_at(results, scenario, c)]
                    + [_fmt(ratio.get("cpu_share_of_passthrough"))])
    return _table(["scenario", *_systems(results), "passthrough ÷ gatehouse"], rows)


def _stream_timings(results: dict) -> list[str]:
    """Long streams: time to first content and to [DONE] (sequential, after the load), guardrail calls per stream."""
    rows = [[r["system"], r["scenario"], str(r["concurrency"]), _fmt(r.get("ttft_ms"), 2),
             _fmt(r.get("stream_total_ms"), 2), _fmt(r.get("guardrail_calls_per_req"), 1)]
            for r in results["rows"] if _ok(r) and "ttft_ms" in r]
    if not rows:
        return []
    return (["## Long streams", "", "TTFT and total: median of 5 sequential streams after the load cell. "
             "Guardrail calls: calls the fake guardrail service saw during the cell ÷ requests.", ""]
            + _table(["system", "scenario", "c", "TTFT ms", "total ms", "guardrail calls / stream"], rows) + [""])


def _errors_text(row: dict) -> str:
    if row.get("error"):
        return "error"
    parts = [f"{row[k]} {k.replace('_', '-')}" for k in ("non_2xx", "socket_errors") if row.get(k)]
    return ", ".join(parts) or "0"


def _all_cells(results: dict) -> list[str]:
    rows = []
    order = {s: i for i, s in enumerate(SYSTEM_ORDER)}
    scenarios = {s: i for i, s in enumerate(["plain", "hooks", "guardrail", "rule", "stream"])}

    def key(r: dict) -> tuple[int, int, int]:
        return order.get(r["system"], 9), scenarios.get(r["scenario"], 9), r["concurrency"]

    for r in sorted(results["rows"], key=key):
        rss = f"{_fmt(r.get('rss_before_mb'), 1)} → {_fmt(r.get('rss_after_mb'), 1)}"
        rows.append([r["system"], r["scenario"], str(r["concurrency"]), _fmt(r.get("rps"), 0),
                     _fmt(r.get("p50_ms"), 3), _fmt(r.get("p99_ms"), 3), _fmt(r.get("added_p50_ms"), 3),
                     _fmt(r.get("cpu_ms_per_req"), 3), rss, _fmt(r.get("procs")), _errors_text(r)])
    return _table(["system", "scenario", "c", "RPS", "p50 ms", "p99 ms", "+p50 vs direct ms",
                   "CPU ms/req", "RSS before → after MB", "procs", "errors"], rows)


def _startups(results: dict) -> list[str]:
    rows = [[s["system"], s["scenario"], _fmt(s["ready_s"], 2), _fmt(s["rss_mb"], 1), "error" if s["error"] else ""]
            for s in results["startups"]]
    return _table(["system", "scenario", "spawn → ready s", "RSS at ready MB", "error"], rows)


def _header(meta: dict) -> list[str]:
    m, v, lv = meta["machine"], meta["versions"], meta.get("litellm_versions") or {}
    litellm = f"LiteLLM {lv['litellm']} (Python {lv.get('python', '?')})" if lv.get("litellm") else "LiteLLM: not installed"
    return [
        "# Benchmark results", "",
        f"Measured {meta['date']} in {meta['elapsed_s']:.0f} s, with:", "",
        "```", meta["command"], "```", "",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM ({m['os']}); "
        "load generator, fake upstream and the system under test share these cores "
        f"(1-minute load average at start: {m.get('loadavg_1m_at_start', '?')}).",
        f"- Software: Python {v.get('python', '?')}, aiohttp {v.get('aiohttp', '?')}, "
        f"uvloop {v.get('uvloop', '?')}, Gatehouse {v.get('gatehouse', '?')}; {litellm}.",
        f"- Load: {meta['load_generator']} ({meta['wrk_threads']} thread), {meta['duration_s']} s per cell "
        f"after a {meta['warmup_s']} s warm-up, concurrency {', '.join(map(str, meta['concurrency']))}.",
        "- RPS counts successful responses only; latency is to the last byte (the whole stream for `stream`).",
        "- Baselines (direct, passthrough) run the `plain` and `stream` requests; every scenario is "
        "compared with the baseline of its request shape. See bench/README.md.", "",
    ]


def render_markdown(results: dict) -> str:
    c = CHART_CONCURRENCY if CHART_CONCURRENCY in results["meta"]["concurrency"] else max(results["meta"]["concurrency"])
    lines = _header(results["meta"])
    lines += [f"## Requests per second at c={c}", ""] + _summary(results, c) + [""]
    lines += [f"![RPS at c={c}](rps.png)", ""]
    lines += [f"## CPU ms per request at c={c}", "",
              "CPU time of the system's process tree per request (for direct: the upstream's). Less sensitive "
              "to other load on the machine than RPS; passthrough ÷ gatehouse is the RPS share this cost "
              "predicts when the gateway is CPU-bound.", ""] + _cpu_summary(results, c) + [""]
    if any(r["kind"] == "gatehouse" for r in results["rows"]):
        lines += ["## Targets (gatehouse)", ""]
        lines += _table(["target", "measured", "status"],
                        [[t["target"], _fmt(t["measured"], 2), t["status"]] for t in results["targets"]]) + [""]
    lines += _stream_timings(results)
    lines += ["## All cells", ""] + _all_cells(results) + [""]
    lines += ["CPU ms/req: user+system CPU of the system's process tree (for direct: the upstream) during the "
              "cell, divided by the requests completed. RSS: the whole tree.", ""]
    lines += ["## Start-up", ""] + _startups(results) + [""]
    errors = [r for r in results["rows"] if r.get("error")] + [s for s in results["startups"] if s.get("error")]
    if errors:
        seen = dict.fromkeys(f"- {e['system']}/{e['scenario']}: {e['error'][:400]}" for e in errors)
        lines += ["## Errors", ""] + list(seen) + [""]
    return "\n".join(lines)


def one_line(row: dict) -> str:
    head = f"{row['system']}/{row['scenario']} c={row['concurrency']}"
    if row.get("error"):
        return f"{head}: ERROR {row['error'][:200]}"
    return (f"{head}: {row['rps']:.0f} rps, p50 {row['p50_ms']:.3f} ms, p99 {row['p99_ms']:.3f} ms, "
            f"cpu {_fmt(row.get('cpu_ms_per_req'), 3)} ms/req, errors {_errors_text(row)}")


# -- chart -------------------------------------------------------------------------------

def draw_chart(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = results["meta"]
    c = CHART_CONCURRENCY if CHART_CONCURRENCY in meta["concurrency"] else max(meta["concurrency"])
    index, systems, scenarios = _index(results["rows"]), _systems(results), meta["scenarios"]
    fig, ax = plt.subplots(figsize=(max(7, 1.9 * len(scenarios)), 4.5), dpi=120)
    width = 0.8 / max(len(systems), 1)
    for i, system in enumerate(systems):
        values = []
        for scenario in scenarios:
            key = next((r["shape"] for r in results["rows"] if r["scenario"] == scenario), "plain")
            row = index.get((system, key if system in ("direct", "passthrough") else scenario, c))
            values.append(row["rps"] if row else 0)
        xs = [x + (i - (len(systems) - 1) / 2) * width for x in range(len(scenarios))]
        bars = ax.bar(xs, values, width, label=system)
        ax.bar_label(bars, labels=[f"{v:,.0f}" if v else "" for v in values], fontsize=7, rotation=90, padding=2)
    ax.set_xticks(range(len(scenarios)), scenarios)
    ax.set_yscale("log")
    ax.set_ylabel("requests / s (log scale)")
    ax.set_title(f"Throughput at concurrency {c} ({meta['machine']['cores']} cores, all on one machine)")
    ax.legend(fontsize=8, ncols=len(systems), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    ax.margins(y=0.25)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _chart(results_path: Path, png: Path, python: str) -> bool:
    """Draw here if matplotlib imports, else with ``python`` (the dev venv)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        out = subprocess.run([python, __file__, "--chart-only", str(results_path)],
                             capture_output=True, text=True, timeout=120)
        return out.returncode == 0
    draw_chart(json.loads(results_path.read_text()), png)
    return True


def write(results: dict, out: Path, python: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    derive(results)
    paths = [out / "results.json", out / "results.md"]
    paths[0].write_text(json.dumps(results, indent=1) + "\n")
    paths[1].write_text(render_markdown(results))
    if _chart(paths[0], out / "rps.png", python):
        paths.append(out / "rps.png")
    return paths


def main(argv: list[str]) -> None:
    """``report.py RESULTS.json`` re-renders results.md and rps.png beside it; ``--chart-only`` the chart."""
    source = Path(argv[-1])
    results = json.loads(source.read_text())
    if "--chart-only" in argv:
        draw_chart(results, source.parent / "rps.png")
    else:
        write(results, source.parent, sys.executable)


if __name__ == "__main__":
    main(sys.argv[1:])
