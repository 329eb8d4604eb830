// The live request log: the gateway's recent requests with their decision trace, as they happen.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { get, stream } from "../api";
import { clock, count, dateTime, money, ms, text } from "../format";
import { Badge, Button, Card, ErrorNotice, Page, SearchBox, Spinner, Table, Toolbar } from "../ui";

interface TraceStep {
  stage: string;
  hook: string;
  outcome: string;
  ms: number | null;
}

interface GuardrailRecord {
  name: string | null;
  provider: string | null;
  mode: string | null;
  status: string | null;
  start: number | null;
  duration_ms: number | null;
  masked_entities: unknown;
  response?: string | null;
}

export interface LogEntry {
  seq: number;
  call_id: string;
  time: number;
  duration_ms: number | null;
  status: "success" | "failure";
  status_code: number | null;
  error: { class: string | null; message: string | null } | null;
  call_type: string | null;
  endpoint: string | null;
  model: string | null;
  model_group: string | null;
  deployment: string | null;
  stream: boolean;
  tokens: { prompt: number; completion: number; total: number };
  cost: number | null;
  key: { alias: string | null; hash_prefix: string | null; master: boolean; user_id: string | null; team_id: string | null; team_alias: string | null; end_user: string | null };
  tags: string[];
  trace: TraceStep[];
  guardrails: GuardrailRecord[];
  content?: { messages: string | null; response: string | null };
}

interface LogState {
  enabled: boolean;
  always: boolean;
  size: number;
  content: boolean;
  log_id: string;
  last_seq: number;
  requests?: LogEntry[];
}

const KEEP = 500;
type Connection = "connecting" | "live" | "paused" | "offline";

export function RequestsPage() {
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [state, setState] = useState<LogState | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [connection, setConnection] = useState<Connection>("connecting");
  const [paused, setPaused] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [search, setSearch] = useState("");
  const [only, setOnly] = useState<"all" | "success" | "failure">("all");
  const last = useRef(0);
  const logId = useRef<string | null>(null);

  const add = (found: LogEntry[]) => {
    if (!found.length) return;
    last.current = Math.max(last.current, ...found.map((e) => e.seq));
    setEntries((old) => [...found.slice().reverse(), ...old].slice(0, KEEP));
  };

  useEffect(() => {
    if (paused) {
      setConnection("paused");
      return;
    }
    const abort = new AbortController();
    let stopped = false;
    const run = async () => {
      while (!stopped) {
        try {
          if (logId.current === null) {
            const first = await get<LogState>("/ui/api/requests", { limit: 200 });
            setState(first);
            logId.current = first.log_id;
            add(first.requests ?? []);
            if (!first.enabled) return setConnection("offline");
          }
          setConnection("live");
          await stream("/ui/api/requests/stream", { after: last.current }, (event) => {
            const payload = JSON.parse(event.data);
            if (event.event === "hello" && payload.log_id !== logId.current) {
              logId.current = payload.log_id; // another gateway process: start over
              last.current = 0;
              setEntries([]);
            } else if (event.event === "request") {
              add([payload as LogEntry]);
            }
          }, abort.signal);
        } catch (problem) {
          if (stopped) return;
          if (logId.current === null) {
            setError(problem);
            return;
          }
          setConnection("offline");
          await new Promise((resolve) => setTimeout(resolve, 2000));
        }
      }
    };
    run();
    return () => {
      stopped = true;
      abort.abort();
    };
  }, [paused]);

  const needle = search.trim().toLowerCase();
  const rows = useMemo(
    () =>
      entries.filter((e) => {
        if (only !== "all" && e.status !== only) return false;
        if (!needle) return true;
        return [e.call_id, e.model, e.model_group, e.key.alias, e.key.hash_prefix, e.key.team_id, e.key.team_alias, e.key.end_user, ...e.trace.map((t) => t.hook)]
          .some((v) => typeof v === "string" && v.toLowerCase().includes(needle));
      }),
    [entries, needle, only],
  );
  const chosen = entries.find((e) => e.call_id === selected) ?? null;

  return (
    <Page
      title="Live request log"
      subtitle="Every request with its decision trace: which hooks and guardrails ran, in order, their verdicts and latencies."
      actions={
        <>
          <ConnectionBadge connection={connection} />
          <Button onClick={() => setPaused(!paused)} testid="pause">
            {paused ? "Resume" : "Pause"}
          </Button>
        </>
      }
    >
      {error ? (
        <ErrorNotice error={error} />
      ) : !state ? (
        <Spinner />
      ) : !state.enabled ? (
        <div class="notice notice-unavailable">
          <div class="notice-icon">⊘</div>
          <div>
            <h3>The request log is off</h3>
            <p>
              Set <code>general_settings.ui_request_log_size</code> above 0 to keep recent requests for this page.
            </p>
          </div>
        </div>
      ) : (
        <div class={`split${chosen ? " split-open" : ""}`}>
          <Card class="split-main">
            <Toolbar>
              <SearchBox value={search} onInput={setSearch} placeholder="Filter by key, model, team, hook or call id" />
              <div class="segmented">
                {(["all", "success", "failure"] as const).map((o) => (
                  <button type="button" class={only === o ? "on" : ""} onClick={() => setOnly(o)}>
                    {o === "all" ? "All" : o === "success" ? "Succeeded" : "Failed"}
                  </button>
                ))}
              </div>
              <span class="muted" title={state.always ? "Every request is recorded." : "Requests are recorded while an admin has the console open (general_settings.ui_request_log_always records them all)."}>
                {count(entries.length)} of the last {count(state.size)} kept{state.always ? "" : " · recording while the console is open"}
              </span>
            </Toolbar>
            <Table<LogEntry>
              testid="log-table"
              rows={rows}
              rowKey={(e) => e.call_id}
              selected={selected}
              onRowClick={(e) => setSelected(e.call_id === selected ? null : e.call_id)}
              empty={entries.length ? "No request matches the filter." : "Waiting for requests… send one through the gateway and it appears here."}
              columns={[
                { label: "Time", render: (e) => <span class="mono-soft" title={dateTime(e.time)}>{clock(e.time)}</span> },
                { label: "Status", render: (e) => <StatusBadge entry={e} /> },
                { label: "Key", render: (e) => <KeyCell entry={e} /> },
                { label: "Model", render: (e) => <span data-testid="log-model">{e.model ?? "—"}</span> },
                { label: "Endpoint", narrowHidden: true, render: (e) => <span class="mono-soft">{e.endpoint ?? e.call_type ?? "—"}</span> },
                { label: "Decision trace", render: (e) => <TraceSummary entry={e} /> },
                { label: "Latency", align: "right", render: (e) => ms(e.duration_ms) },
                { label: "Tokens", align: "right", narrowHidden: true, render: (e) => (e.tokens.total ? count(e.tokens.total) : "—") },
                { label: "Cost", align: "right", narrowHidden: true, render: (e) => (e.cost === null ? "—" : money(e.cost, 6)) },
              ]}
            />
          </Card>
          {chosen && <Detail entry={chosen} content={state.content} onClose={() => setSelected(null)} />}
        </div>
      )}
    </Page>
  );
}

function ConnectionBadge(props: { connection: Connection }) {
  const [tone, label] = {
    connecting: ["muted", "Connecting…"],
    live: ["good", "Live"],
    paused: ["warn", "Paused"],
    offline: ["bad", "Reconnecting…"],
  }[props.connection] as ["muted" | "good" | "warn" | "bad", string];
  return (
    <span class={`live-dot live-${props.connection}`} data-testid="connection">
      <Badge tone={tone}>{label}</Badge>
    </span>
  );
}

function StatusBadge(props: { entry: LogEntry }) {
  const e = props.entry;
  if (e.status === "success") return <Badge tone="good">{e.status_code ?? 200}</Badge>;
  return (
    <Badge tone="bad" title={e.error?.message ?? undefined}>
      {e.status_code ?? "error"}
    </Badge>
  );
}

function KeyCell(props: { entry: LogEntry }) {
  const k = props.entry.key;
  return (
    <div class="cell-main">
      <span class="strong" data-testid="log-key" title={k.alias ?? undefined}>{k.alias ?? (k.hash_prefix ? "(no alias)" : "—")}</span>
      {k.hash_prefix && <span class="mono muted">{k.hash_prefix}…</span>}
    </div>
  );
}

function TraceSummary(props: { entry: LogEntry }) {
  const steps = props.entry.trace;
  if (!steps.length) return <span class="muted">no hooks</span>;
  return (
    <span class="trace-mini">
      {steps.slice(0, 6).map((s) => (
        <span class={`pip pip-${tone(verdict(s, props.entry.guardrails))}`} title={`${s.stage} · ${s.hook} · ${verdict(s, props.entry.guardrails)}`} />
      ))}
      <span class="muted">
        {steps.length} step{steps.length === 1 ? "" : "s"}
      </span>
    </span>
  );
}

/** A trace step's verdict: a guardrail's own status when the step is a guardrail. */
function verdict(step: TraceStep, guardrails: GuardrailRecord[]): string {
  if (step.hook.startsWith("guardrail:")) {
    const name = step.hook.slice("guardrail:".length);
    const record = guardrails.find((g) => g.name === name && (g.mode === step.stage || !g.mode));
    if (record?.status) return record.status;
  }
  return step.outcome;
}

function tone(outcome: string): "good" | "warn" | "bad" | "info" | "muted" {
  if (outcome === "ok" || outcome === "success") return "good";
  if (outcome === "returned" || outcome === "guardrail_intervened") return "info";
  if (outcome === "not_run") return "muted";
  if (outcome === "timeout" || outcome === "guardrail_failed_to_respond") return "warn";
  return "bad";
}

const RETURNED: Record<string, string> = {
  pre_call: "changed the request",
  post_call: "changed the answer",
  headers: "added headers",
  failure: "changed the error",
};

function verdictLabel(stage: string, v: string): string {
  return v === "returned" ? RETURNED[stage] ?? "returned a value" : VERDICTS[v] ?? v;
}

const VERDICTS: Record<string, string> = {
  ok: "passed",
  success: "allowed",
  guardrail_intervened: "intervened",
  blocked: "blocked",
  guardrail_failed_to_respond: "failed to respond",
  not_run: "not run",
  timeout: "timed out",
};

function Detail(props: { entry: LogEntry; content: boolean; onClose: () => void }) {
  const e = props.entry;
  const longest = Math.max(...e.trace.map((s) => s.ms ?? 0), 0.001);
  return (
    <Card class="split-side detail" title="Request" actions={<Button small kind="ghost" onClick={props.onClose}>Close</Button>}>
      <div class="detail-head">
        <StatusBadge entry={e} />
        <span class="mono">{e.call_id}</span>
      </div>
      {e.error && (
        <div class="error-box" data-testid="detail-error">
          <strong>{e.error.class ?? "Error"}</strong>
          <span>{e.error.message ?? ""}</span>
        </div>
      )}
      <dl class="facts">
        <dt>Time</dt>
        <dd>{dateTime(e.time)}</dd>
        <dt>Key</dt>
        <dd>
          {e.key.alias ?? "—"} {e.key.hash_prefix && <span class="mono muted">{e.key.hash_prefix}…</span>}
        </dd>
        <dt>Team</dt>
        <dd>{text(e.key.team_alias ?? e.key.team_id)}</dd>
        <dt>User</dt>
        <dd>{text(e.key.user_id)}</dd>
        <dt>Customer</dt>
        <dd>{text(e.key.end_user)}</dd>
        <dt>Model</dt>
        <dd>
          {text(e.model)}
          {e.deployment && <span class="muted"> → deployment {e.deployment}</span>}
        </dd>
        <dt>Endpoint</dt>
        <dd class="mono-soft">
          {text(e.endpoint)} {e.stream && <Badge tone="info">stream</Badge>}
        </dd>
        <dt>Latency</dt>
        <dd>{ms(e.duration_ms)}</dd>
        <dt>Tokens</dt>
        <dd>
          {count(e.tokens.prompt)} in · {count(e.tokens.completion)} out
        </dd>
        <dt>Cost</dt>
        <dd>{e.cost === null ? "—" : money(e.cost, 6)}</dd>
        {e.tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>{e.tags.join(", ")}</dd>
          </>
        )}
      </dl>

      <h3 class="section">Decision trace</h3>
      {e.trace.length === 0 ? (
        <p class="muted">No hook or guardrail ran for this request.</p>
      ) : (
        <ol class="trace" data-testid="trace">
          {e.trace.map((step, i) => {
            const v = verdict(step, e.guardrails);
            return (
              <li class="trace-step" data-testid="trace-step" data-stage={step.stage} data-hook={step.hook} data-verdict={v}>
                <span class="trace-n">{i + 1}</span>
                <div class="trace-body">
                  <div class="trace-line">
                    <span class="stage">{step.stage}</span>
                    <span class="hook">{step.hook}</span>
                    <Badge tone={tone(v)}>{verdictLabel(step.stage, v)}</Badge>
                    <span class="trace-ms">{ms(step.ms)}</span>
                  </div>
                  <div class="trace-bar">
                    <div class={`trace-fill tone-${tone(v)}`} style={{ width: `${Math.max(((step.ms ?? 0) / longest) * 100, 1)}%` }} />
                  </div>
                </div>
              </li>
            );
          })}
        </ol>
      )}

      <h3 class="section">Guardrails</h3>
      {e.guardrails.length === 0 ? (
        <p class="muted">No guardrail ran.</p>
      ) : (
        <table class="table compact" data-testid="guardrails">
          <thead>
            <tr>
              <th>Guardrail</th>
              <th>Mode</th>
              <th>Verdict</th>
              <th class="num">Time</th>
            </tr>
          </thead>
          <tbody>
            {e.guardrails.map((g) => (
              <tr>
                <td class="strong">{g.name ?? "—"}</td>
                <td class="mono-soft">{g.mode ?? "—"}</td>
                <td>
                  <Badge tone={tone(g.status ?? "")}>{VERDICTS[g.status ?? ""] ?? g.status ?? "—"}</Badge>
                </td>
                <td class="num">{ms(g.duration_ms)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h3 class="section">Content</h3>
      {props.content && e.content ? (
        <>
          <div class="label">Request</div>
          <Messages raw={e.content.messages} testid="content-messages" />
          <div class="label">Response</div>
          <Messages raw={e.content.response} testid="content-response" />
        </>
      ) : (
        <p class="muted">
          Prompts and answers are not kept (<code>general_settings.ui_request_log_content</code> is off).
        </p>
      )}
    </Card>
  );
}

interface Message {
  role: string;
  text: string;
}

/** Chat messages (or a chat answer) as role + text; anything else as its JSON. */
function readable(raw: string | null): Message[] | null {
  if (!raw) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  const asText = (content: unknown) =>
    typeof content === "string"
      ? content
      : Array.isArray(content)
        ? content.map((part) => (typeof part?.text === "string" ? part.text : JSON.stringify(part))).join("\n")
        : JSON.stringify(content);
  if (Array.isArray(value) && value.every((m) => m && typeof m === "object" && "role" in m)) {
    return value.map((m) => ({ role: String(m.role), text: asText(m.content) }));
  }
  const choices = (value as { choices?: { message?: { role?: unknown; content?: unknown } }[] } | null)?.choices;
  if (Array.isArray(choices) && choices.length && choices[0]?.message) {
    return choices.map((c) => ({ role: String(c.message?.role ?? "assistant"), text: asText(c.message?.content) }));
  }
  return null;
}

function Messages(props: { raw: string | null; testid: string }) {
  const messages = readable(props.raw);
  if (!messages) return <pre class="content-text" data-testid={props.testid}>{props.raw ?? "—"}</pre>;
  return (
    <div class="messages" data-testid={props.testid}>
      {messages.map((m) => (
        <div class="message">
          <span class="message-role">{m.role}</span>
          <pre class="content-text">{m.text}</pre>
        </div>
      ))}
    </div>
  );
}
