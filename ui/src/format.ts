// Formatting helpers: every value is turned into plain text (rendered as text nodes, never as HTML).

export function money(value: unknown, digits = 4): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  if (value === 0) return "$0";
  if (Math.abs(value) >= 100) return `$${value.toFixed(2)}`;
  return `$${Number(value.toFixed(digits)).toString()}`;
}

export function count(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return value.toLocaleString("en-US");
}

export function ms(value: unknown): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 10) return `${Math.round(value)} ms`;
  return `${value.toFixed(value >= 1 ? 1 : 2)} ms`;
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

export function dateTime(value: unknown): string {
  const date = toDate(value);
  if (!date) return "—";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function clock(value: unknown): string {
  const date = toDate(value);
  if (!date) return "—";
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function toDate(value: unknown): Date | null {
  if (typeof value === "number") return new Date(value * 1000);
  if (typeof value === "string" && value) {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }
  return null;
}

export function isoDay(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function text(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

export function limits(row: { rpm_limit?: unknown; tpm_limit?: unknown; max_parallel_requests?: unknown }): string {
  const parts: string[] = [];
  if (typeof row.rpm_limit === "number") parts.push(`${count(row.rpm_limit)} rpm`);
  if (typeof row.tpm_limit === "number") parts.push(`${count(row.tpm_limit)} tpm`);
  if (typeof row.max_parallel_requests === "number") parts.push(`${count(row.max_parallel_requests)} parallel`);
  return parts.length ? parts.join(" · ") : "none";
}
