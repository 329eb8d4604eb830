// Line icons for the navigation (inline SVG: no icon font, nothing fetched).
const paths: Record<string, string> = {
  requests: "M3 12h4l3-8 4 16 3-8h4",
  keys: "M15 7a4 4 0 1 1-3.9 4.9L4 19v2h3l1-1h2v-2h2l1.1-1.1A4 4 0 0 1 15 7zm1.5 2.5h.01",
  teams: "M9 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zm-6 9v-1a5 5 0 0 1 10 0v1M17 11a3 3 0 1 0 0-6M21 20v-1a5 5 0 0 0-3-4.6",
  users: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-8 9v-1a6 6 0 0 1 6-6h4a6 6 0 0 1 6 6v1",
  customers: "M3 9l2-5h14l2 5M3 9h18v11H3zM9 20v-6h6v6",
  spend: "M4 20V10m6 10V4m6 16v-7m4 7H2",
};

export function Icon(props: { name: string }) {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">
      <path d={paths[props.name] ?? ""} />
    </svg>
  );
}
