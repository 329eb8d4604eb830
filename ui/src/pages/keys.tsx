import { useState } from "preact/hooks";
import { ApiError, get, post } from "../api";
import { FormModal, type FieldSpec } from "../form";
import { dateTime, limits, money } from "../format";
import { useLoad } from "../load";
import { Badge, Budget, Button, Card, Chips, Confirm, ErrorNotice, Modal, Page, SearchBox, Spinner, Table, Toolbar, notify } from "../ui";

export interface KeyRow {
  token: string;
  key_name?: string | null;
  key_alias?: string | null;
  team_id?: string | null;
  user_id?: string | null;
  models?: string[];
  spend?: number;
  max_budget?: number | null;
  budget_duration?: string | null;
  rpm_limit?: number | null;
  tpm_limit?: number | null;
  max_parallel_requests?: number | null;
  expires?: string | null;
  blocked?: boolean | null;
  created_at?: string;
  tags?: string[];
  metadata?: Record<string, unknown>;
  [field: string]: unknown;
}

interface KeyList {
  keys: KeyRow[];
  total_count: number;
  current_page: number;
  total_pages: number;
}

const FIELDS: FieldSpec[] = [
  { name: "key_alias", label: "Alias", kind: "text", placeholder: "billing-service" },
  { name: "team_id", label: "Team ID", kind: "text", placeholder: "optional" },
  { name: "user_id", label: "User ID", kind: "text", placeholder: "optional" },
  { name: "models", label: "Models", kind: "list", placeholder: "all models", help: "Comma-separated model groups or access groups; empty allows every model." },
  { name: "max_budget", label: "Max budget (USD)", kind: "number", placeholder: "no budget" },
  { name: "budget_duration", label: "Budget resets every", kind: "text", placeholder: "e.g. 30d, 24h, 1mo" },
  { name: "rpm_limit", label: "Requests / minute", kind: "integer", placeholder: "no limit" },
  { name: "tpm_limit", label: "Tokens / minute", kind: "integer", placeholder: "no limit" },
  { name: "max_parallel_requests", label: "Parallel requests", kind: "integer", placeholder: "no limit" },
  { name: "duration", label: "Expires after", kind: "text", placeholder: "never (e.g. 30d)", createOnly: true },
  { name: "tags", label: "Tags", kind: "list", placeholder: "comma-separated" },
  { name: "metadata", label: "Metadata (JSON)", kind: "json", placeholder: '{"owner": "payments"}' },
];

const PAGE_SIZE = 50;

export function status(row: { blocked?: unknown; expires?: unknown }) {
  if (row.blocked === true) return <Badge tone="bad">Blocked</Badge>;
  if (typeof row.expires === "string" && new Date(row.expires).getTime() <= Date.now()) return <Badge tone="muted">Expired</Badge>;
  return <Badge tone="good">Active</Badge>;
}

export function KeysPage() {
  const [page, setPage] = useState(1);
  const [search, setSearch] = useState("");
  const list = useLoad(() => get<KeyList>("/key/list", { return_full_object: true, page, size: PAGE_SIZE }), [page]);
  const [dialog, setDialog] = useState<null | { kind: "create" } | { kind: "edit" | "delete" | "regenerate"; row: KeyRow }>(null);
  const [secret, setSecret] = useState<{ key: string; title: string } | null>(null);

  const rows = (list.data?.keys ?? []).filter((row) => {
    const needle = search.trim().toLowerCase();
    if (!needle) return true;
    return [row.key_alias, row.key_name, row.team_id, row.user_id, row.token].some((v) => typeof v === "string" && v.toLowerCase().includes(needle));
  });

  const setBlocked = async (row: KeyRow, blocked: boolean) => {
    try {
      await post(blocked ? "/key/block" : "/key/unblock", { key: row.token });
      notify(`${label(row)} ${blocked ? "blocked" : "unblocked"}`);
      list.reload();
    } catch (error) {
      notify(error instanceof Error ? error.message : String(error), "bad");
    }
  };

  const regenerate = async (row: KeyRow) => {
    try {
      const answer = await post<{ key: string }>("/key/regenerate", { key: row.token });
      setSecret({ key: answer.key, title: `New key for ${label(row)}` });
      list.reload();
    } catch (error) {
      if (error instanceof ApiError && error.unavailable) {
        notify("Key rotation (/key/regenerate) is not available on this gateway", "bad");
        return;
      }
      throw error;
    }
  };

  return (
    <Page
      title="Virtual keys"
      subtitle="Create, limit, block and rotate the keys clients use."
      actions={
        <Button kind="primary" onClick={() => setDialog({ kind: "create" })} testid="new-key">
          + New key
        </Button>
      }
    >
      <Card>
        <Toolbar>
          <SearchBox value={search} onInput={setSearch} placeholder="Filter by alias, team, user or hash" />
          <span class="muted">{list.data ? `${list.data.total_count} key${list.data.total_count === 1 ? "" : "s"}` : ""}</span>
          <Button small kind="ghost" onClick={list.reload}>
            Refresh
          </Button>
        </Toolbar>
        {list.error ? (
          <ErrorNotice error={list.error} onRetry={list.reload} />
        ) : !list.data ? (
          <Spinner />
        ) : (
          <Table<KeyRow>
            testid="keys-table"
            rows={rows}
            rowKey={(r) => r.token}
            empty={search ? "No key matches the filter." : "No virtual keys yet. Create one to give a client access."}
            columns={[
              {
                label: "Key",
                render: (r) => (
                  <div class="cell-main">
                    <span class="strong" data-testid="key-alias" title={r.key_alias ?? undefined}>{r.key_alias || "(no alias)"}</span>
                    <span class="mono muted">{r.key_name ?? r.token.slice(0, 12)}</span>
                  </div>
                ),
              },
              { label: "Team", render: (r) => <span class="mono-soft">{r.team_id ?? "—"}</span> },
              { label: "User", render: (r) => <span class="mono-soft">{r.user_id ?? "—"}</span> },
              { label: "Models", render: (r) => <Chips items={r.models} empty="all models" /> },
              { label: "Spend", width: "160px", render: (r) => <Budget spend={r.spend} max={r.max_budget} money={money} /> },
              { label: "Limits", render: (r) => <span class="muted">{limits(r)}</span> },
              { label: "Expires", render: (r) => <span class="muted">{r.expires ? dateTime(r.expires) : "never"}</span> },
              { label: "Status", render: (r) => <span data-testid="key-status">{status(r)}</span> },
              {
                label: "",
                align: "right",
                render: (r) => (
                  <div class="row-actions">
                    <Button small kind="ghost" onClick={() => setDialog({ kind: "edit", row: r })}>
                      Edit
                    </Button>
                    {r.blocked ? (
                      <Button small kind="ghost" onClick={() => setBlocked(r, false)} testid="unblock">
                        Unblock
                      </Button>
                    ) : (
                      <Button small kind="ghost" onClick={() => setBlocked(r, true)} testid="block">
                        Block
                      </Button>
                    )}
                    <Button small kind="ghost" onClick={() => setDialog({ kind: "regenerate", row: r })}>
                      Rotate
                    </Button>
                    <Button small kind="ghost" onClick={() => setDialog({ kind: "delete", row: r })}>
                      Delete
                    </Button>
                  </div>
                ),
              },
            ]}
          />
        )}
        {list.data && list.data.total_pages > 1 && (
          <div class="pager">
            <Button small disabled={page <= 1} onClick={() => setPage(page - 1)}>
              ← Previous
            </Button>
            <span class="muted">
              Page {page} of {list.data.total_pages}
            </span>
            <Button small disabled={page >= list.data.total_pages} onClick={() => setPage(page + 1)}>
              Next →
            </Button>
          </div>
        )}
      </Card>

      {dialog?.kind === "create" && (
        <FormModal
          title="New virtual key"
          fields={FIELDS}
          submit="Create key"
          onClose={() => setDialog(null)}
          onSubmit={async (body) => {
            const answer = await post<{ key: string; key_alias?: string | null }>("/key/generate", body);
            setSecret({ key: answer.key, title: `Key ${answer.key_alias ?? ""} created` });
            list.reload();
          }}
        />
      )}
      {dialog?.kind === "edit" && (
        <FormModal
          title={`Edit ${label(dialog.row)}`}
          fields={FIELDS}
          row={dialog.row}
          submit="Save changes"
          onClose={() => setDialog(null)}
          onSubmit={async (body) => {
            if (Object.keys(body).length) await post("/key/update", { key: dialog.row.token, ...body });
            notify(`${label(dialog.row)} saved`);
            list.reload();
          }}
        />
      )}
      {dialog?.kind === "delete" && (
        <Confirm
          title="Delete key"
          action="Delete key"
          danger
          body={`${label(dialog.row)} stops working at once. This cannot be undone.`}
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await post("/key/delete", { keys: [dialog.row.token] });
            notify(`${label(dialog.row)} deleted`);
            list.reload();
          }}
        />
      )}
      {dialog?.kind === "regenerate" && (
        <Confirm
          title="Rotate key"
          action="Rotate key"
          body={`A new secret replaces ${label(dialog.row)}'s; the old one is refused at once. Limits and spend are kept.`}
          onClose={() => setDialog(null)}
          onConfirm={() => regenerate(dialog.row)}
        />
      )}
      {secret && <SecretDialog title={secret.title} secret={secret.key} onClose={() => setSecret(null)} />}
    </Page>
  );
}

function label(row: KeyRow): string {
  return row.key_alias ? `“${row.key_alias}”` : row.key_name ?? "the key";
}

function SecretDialog(props: { title: string; secret: string; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied(true);
    } catch {
      notify("Copy failed: select the key and copy it by hand", "bad");
    }
  };
  return (
    <Modal title={props.title} onClose={props.onClose} footer={<Button kind="primary" onClick={props.onClose}>Done</Button>}>
      <p>Copy the key now: Gatehouse stores only its hash and will not show it again.</p>
      <div class="secret">
        <input readOnly value={props.secret} data-testid="new-key-value" onFocus={(e) => e.currentTarget.select()} />
        <Button onClick={copy}>{copied ? "Copied" : "Copy"}</Button>
      </div>
    </Modal>
  );
}
