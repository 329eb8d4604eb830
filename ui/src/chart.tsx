// Chart.js, with only the parts the console uses registered (a smaller bundle, no inline styles).
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip, type ChartConfiguration } from "chart.js";
import { useEffect, useRef } from "preact/hooks";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue("--font").trim() || "system-ui, sans-serif";
Chart.defaults.color = "#5b6472";

export const PALETTE = ["#2f6fde", "#16a394", "#f29d38", "#8a5cf6", "#e5484d", "#0ea5e9", "#84cc16", "#d946ef", "#94a3b8"];

export function BarChart(props: { config: ChartConfiguration<"bar">; height?: number; label: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, props.config);
    return () => chart.destroy();
  }, [props.config]);
  return (
    <div class="chart" style={{ height: `${props.height ?? 300}px` }}>
      <canvas ref={canvas} role="img" aria-label={props.label} />
    </div>
  );
}
