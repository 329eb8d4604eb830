// Spend over time per key, team and model (LiteLLM's /global/spend/report, else /spend/logs),
// and the spend each key has now (/key/list, always there).
import type { ChartConfiguration } from "chart.js";
import { useMemo, useState } from "preact/hooks";
import { ApiError, get } from "../api";
import { BarChart, PALETTE } from "../chart";
import { count, isoDay, money } from "../format";
import { useLoad } from "../load";
import { Card, ErrorNotice, Page, Spinner, Unavailable } from "../ui";
import type { KeyRow } from "./keys";

type Dimension = "key" | "team" | "model";
/** day → group → spend */
type Series = Map<string, Map<string, number>>;

interface Report {
  source: string;
  byDimension: Record<Dimension, Series>;
  tokens: number;
}

const RANGES = [7, 30, 90];
const TOP = 8;

function days(range: number): string[] {
  const out: string[] = [];
  const today = new Date();
  for (let i = range - 1; i >= 0; i--) {
    const day = new Date(today);
    day.setDate(today.getDate() - i);
    out.push(isoDay(day));
  }
  return out;
}

function addTo(series: Series, day: string, group: string, spend: number) {
  if (!Number.isFinite(spend)) return;
  const row = series.get(day) ?? new Map<string, number>();
  row.set(group, (row.get(group) ?? 0) + spend);
  series.set(day, row);
}

function dayOf(value: unknown): string | null {
  if (typeof value !== "string" || !value) return null;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : isoDay(date);
}

const num = (value: unknown) => (typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN);

/** ``/global/spend/report?group_by=team``: per day, per team, with model and key under ``metadata``. */
function fromReport(answer: unknown): Report {
  const report: Report = { source: "/global/spend/report", byDimension: { key: new Map(), team: new Map(), model: new Map() }, tokens: 0 };
  for (const day of Array.isArray(answer) ? answer : []) {
    const date = dayOf(day?.group_by_day);
    if (!date) continue;
    for (const team of Array.isArray(day.teams) ? day.teams : []) {
      const teamName = typeof team?.team_name === "string" ? team.team_name : "Unassigned Team";
      const parts = Array.isArray(team?.metadata) ? team.metadata : [];
      if (!parts.length) addTo(report.byDimension.team, date, teamName, num(team?.total_spend));
      for (const part of parts) {
        const spend = num(part?.spend);
        addTo(report.byDimension.team, date, teamName, spend);
        addTo(report.byDimension.model, date, typeof part?.model === "string" ? part.model : "unknown", spend);
        addTo(report.byDimension.key, date, typeof part?.api_key === "string" ? part.api_key : "unknown", spend);
        report.tokens += num(part?.total_tokens) || 0;
      }
    }
  }
  return report;
}

/** ``/spend/logs?start_date&end_date``: per day, with ``models``, ``users`` and one field per key hash. */
function fromLogs(answer: unknown): Report {
  const report: Report = { source: "/spend/logs", byDimension: { key: new Map(), team: new Map(), model: new Map() }, tokens: 0 };
  for (const day of Array.isArray(answer) ? answer : []) {
    const date = dayOf(day?.startTime);
    if (!date || typeof day !== "object") continue;
    for (const [model, spend] of Object.entries(day.models ?? {})) addTo(report.byDimension.model, date, model, num(spend));
    for (const [field, value] of Object.entries(day)) {
      if (/^[0-9a-f]{64}$/.test(field)) addTo(report.byDimension.key, date, field, num(value));
    }
    if (typeof day.team_id === "string") addTo(report.byDimension.team, date, day.team_id, num(day.spend));
  }
  return report;
}

async function loadReport(range: number): Promise<Report> {
  const all = days(range);
  const query = { start_date: all[0], end_date: all[all.length - 1] };
  try {
    return fromReport(await get<unknown>("/global/spend/report", { ...query, group_by: "team" }));
  } catch (error) {
    if (!(error instanceof ApiError && error.unavailable)) throw error;
  }
  return fromLogs(await get<unknown>("/spend/logs", query));
}

function stacked(series: Series, labels: string[], name: (group: string) => string): ChartConfiguration<"bar"> {
  const totals = new Map<string, number>();
  for (const row of series.values()) for (const [group, spend] of row) totals.set(group, (totals.get(group) ?? 0) + spend);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([g]) => g);
  const top = ranked.slice(0, TOP);
  const rest = ranked.slice(TOP);
  const datasets = top.map((group, i) => ({
    label: name(group),
    data: labels.map((day) => series.get(day)?.get(group) ?? 0),
    backgroundColor: PALETTE[i % PALETTE.length],
    borderRadius: 3,
    maxBarThickness: 36,
  }));
  if (rest.length) {
    datasets.push({
      label: `${rest.length} more`,
      data: labels.map((day) => rest.reduce((sum, g) => sum + (series.get(day)?.get(g) ?? 0), 0)),
      backgroundColor: PALETTE[PALETTE.length - 1],
      borderRadius: 3,
      maxBarThickness: 36,
    });
  }
  return {
    type: "bar",
    data: { labels: labels.map((d) => d.slice(5)), datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { stacked: true, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { callback: (v) => money(Number(v), 4) } },
      },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 10, boxHeight: 10, usePointStyle: true } },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${money(item.parsed.y, 6)}` } },
      },
    },
  };
}

export function SpendPage() {
  const [range, setRange] = useState(30);
  const [dimension, setDimension] = useState<Dimension>("key");
  const report = useLoad(() => loadReport(range), [range]);
  const keys = useLoad(() => get<{ keys: KeyRow[] }>("/key/list", { return_full_object: true, size: 100 }));
  const aliases = useMemo(() => {
    const out = new Map<string, string>();
    for (const k of keys.data?.keys ?? []) out.set(k.token, k.key_alias || k.key_name || k.token.slice(0, 12));
    return out;
  }, [keys.data]);
  const labels = useMemo(() => days(range), [range]);
  const name = (group: string) => (dimension === "key" ? aliases.get(group) ?? `${group.slice(0, 12)}…` : group);
  const config = useMemo(
    () => (report.data ? stacked(report.data.byDimension[dimension], labels, name) : null),
    [report.data, dimension, labels, aliases],
  );
  const total = report.data
    ? [...report.data.byDimension.model.values(), ...(report.data.byDimension.model.size ? [] : report.data.byDimension.key.values())]
        .flatMap((row) => [...row.values()])
        .reduce((a, b) => a + b, 0)
    : null;
  const topKeys = useMemo(() => (keys.data?.keys ?? []).filter((k) => (k.spend ?? 0) > 0).sort((a, b) => (b.spend ?? 0) - (a.spend ?? 0)).slice(0, 10), [keys.data]);
  const current: ChartConfiguration<"bar"> | null = useMemo(
    () =>
      topKeys.length
        ? {
            type: "bar",
            data: {
              labels: topKeys.map((k) => k.key_alias || k.key_name || k.token.slice(0, 12)),
              datasets: [{ label: "Spend", data: topKeys.map((k) => k.spend ?? 0), backgroundColor: PALETTE[0], borderRadius: 3, maxBarThickness: 22 }],
            },
            options: {
              indexAxis: "y",
              responsive: true,
              maintainAspectRatio: false,
              animation: false,
              scales: { x: { beginAtZero: true, ticks: { callback: (v) => money(Number(v), 4) } }, y: { grid: { display: false } } },
              plugins: {
                legend: { display: false },
                tooltip: {
                  callbacks: {
                    label: (item) => {
                      const budget = topKeys[item.dataIndex]?.max_budget;
                      return `Spend: ${money(item.parsed.x, 6)}${typeof budget === "number" ? ` of ${money(budget)} budget` : ""}`;
                    },
                  },
                },
              },
            },
          }
        : null,
    [topKeys],
  );

  return (
    <Page
      title="Spend"
      subtitle="What the gateway's traffic cost, over time and by who used it."
      actions={
        <div class="segmented">
          {RANGES.map((r) => (
            <button type="button" class={range === r ? "on" : ""} onClick={() => setRange(r)}>
              {r} days
            </button>
          ))}
        </div>
      }
    >
      <div class="stats">
        <div class="stat">
          <span class="stat-label">Spend, last {range} days</span>
          <span class="stat-value">{total === null ? "—" : money(total, 4)}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Tokens, last {range} days</span>
          <span class="stat-value">{report.data && report.data.tokens ? count(report.data.tokens) : "—"}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Keys with spend</span>
          <span class="stat-value">{keys.data ? count(topKeys.length) : "—"}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Spend on keys, all time</span>
          <span class="stat-value">{keys.data ? money((keys.data.keys ?? []).reduce((s, k) => s + (k.spend ?? 0), 0), 4) : "—"}</span>
        </div>
      </div>

      <Card
        title="Spend over time"
        actions={
          <div class="segmented">
            {(["key", "team", "model"] as const).map((d) => (
              <button type="button" class={dimension === d ? "on" : ""} onClick={() => setDimension(d)} data-testid={`by-${d}`}>
                By {d}
              </button>
            ))}
          </div>
        }
      >
        {report.unavailable ? (
          <Unavailable what="Spend history" route="GET /global/spend/report or /spend/logs">
            Spend over time needs the spend log. The spend each key has so far is below.
          </Unavailable>
        ) : report.error ? (
          <ErrorNotice error={report.error} onRetry={report.reload} />
        ) : !config ? (
          <Spinner />
        ) : config.data.datasets.length === 0 ? (
          <div class="empty">No spend recorded in the last {range} days.</div>
        ) : (
          <BarChart config={config} label={`Spend per day by ${dimension}`} />
        )}
      </Card>

      <Card title="Spend by key so far">
        {keys.error ? (
          <ErrorNotice error={keys.error} onRetry={keys.reload} />
        ) : !keys.data ? (
          <Spinner />
        ) : !current ? (
          <div class="empty">No key has spent anything yet.</div>
        ) : (
          <BarChart config={current} height={Math.max(140, topKeys.length * 34 + 60)} label="Spend per key" />
        )}
      </Card>
    </Page>
  );
}
