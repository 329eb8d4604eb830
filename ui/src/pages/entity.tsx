// One page per principal (teams, users, customers): list, create, edit, block, delete,
// all against LiteLLM's management routes. A route the gateway lacks shows "not available".
import { useState } from "preact/hooks";
import { get, post } from "../api";
import { FormModal, type FieldSpec } from "../form";
import { useLoad } from "../load";
import { Button, Card, Confirm, ErrorNotice, Page, SearchBox, Spinner, Table, Toolbar, Unavailable, notify, type Column } from "../ui";

export type Row = Record<string, unknown>;

export interface EntityConfig {
  title: string;
  subtitle: string;
  noun: string;
  listRoute: string;
  rows: (answer: unknown) => Row[];
  id: (row: Row) => string;
  label: (row: Row) => string;
  columns: Column<Row>[];
  fields: FieldSpec[];
  create: string;
  update: (row: Row, body: Row) => [string, Row];
  remove: (row: Row) => [string, Row];
  block?: (row: Row, blocked: boolean) => [string, Row];
  search: (row: Row) => unknown[];
  /** A row as the edit form sees it (e.g. limits kept under ``litellm_budget_table``). */
  flatten?: (row: Row) => Row;
  unavailableNote: string;
  testid: string;
}

export function EntityPage(props: { config: EntityConfig }) {
  const c = props.config;
  const list = useLoad(() => get<unknown>(c.listRoute), [c.listRoute]);
  const [search, setSearch] = useState("");
  const [dialog, setDialog] = useState<null | { kind: "create" } | { kind: "edit" | "delete"; row: Row }>(null);

  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      notify(done);
      list.reload();
    } catch (error) {
      notify(error instanceof Error ? error.message : String(error), "bad");
    }
  };

  const needle = search.trim().toLowerCase();
  const rows = list.data ? c.rows(list.data).filter((row) => !needle || c.search(row).some((v) => typeof v === "string" && v.toLowerCase().includes(needle))) : [];
  const actions: Column<Row> = {
    label: "",
    align: "right",
    render: (row) => (
      <div class="row-actions">
        <Button small kind="ghost" onClick={() => setDialog({ kind: "edit", row })}>
          Edit
        </Button>
        {c.block &&
          (row.blocked === true ? (
            <Button small kind="ghost" onClick={() => act(() => post(...c.block!(row, false)), `${c.label(row)} unblocked`)}>
              Unblock
            </Button>
          ) : (
            <Button small kind="ghost" onClick={() => act(() => post(...c.block!(row, true)), `${c.label(row)} blocked`)}>
              Block
            </Button>
          ))}
        <Button small kind="ghost" onClick={() => setDialog({ kind: "delete", row })}>
          Delete
        </Button>
      </div>
    ),
  };

  return (
    <Page
      title={c.title}
      subtitle={c.subtitle}
      actions={
        !list.unavailable && (
          <Button kind="primary" onClick={() => setDialog({ kind: "create" })} testid={`new-${c.testid}`}>
            + New {c.noun}
          </Button>
        )
      }
    >
      {list.unavailable ? (
        <Unavailable what={c.title} route={`GET ${c.listRoute}`}>
          {c.unavailableNote}
        </Unavailable>
      ) : (
        <Card>
          <Toolbar>
            <SearchBox value={search} onInput={setSearch} placeholder={`Filter ${c.title.toLowerCase()}`} />
            <span class="muted">{list.data ? `${c.rows(list.data).length} ${c.noun}${c.rows(list.data).length === 1 ? "" : "s"}` : ""}</span>
            <Button small kind="ghost" onClick={list.reload}>
              Refresh
            </Button>
          </Toolbar>
          {list.error ? (
            <ErrorNotice error={list.error} onRetry={list.reload} />
          ) : !list.data ? (
            <Spinner />
          ) : (
            <Table<Row>
              testid={`${c.testid}-table`}
              rows={rows}
              rowKey={c.id}
              columns={[...c.columns, actions]}
              empty={needle ? `No ${c.noun} matches the filter.` : `No ${c.noun}s yet.`}
            />
          )}
        </Card>
      )}
      {dialog?.kind === "create" && (
        <FormModal
          title={`New ${c.noun}`}
          fields={c.fields}
          submit={`Create ${c.noun}`}
          onClose={() => setDialog(null)}
          onSubmit={async (body) => {
            await post(c.create, body);
            notify(`${c.noun[0].toUpperCase()}${c.noun.slice(1)} created`);
            list.reload();
          }}
        />
      )}
      {dialog?.kind === "edit" && (
        <FormModal
          title={`Edit ${c.label(dialog.row)}`}
          fields={c.fields}
          row={c.flatten ? c.flatten(dialog.row) : dialog.row}
          submit="Save changes"
          onClose={() => setDialog(null)}
          onSubmit={async (body) => {
            if (Object.keys(body).length) await post(...c.update(dialog.row, body));
            notify(`${c.label(dialog.row)} saved`);
            list.reload();
          }}
        />
      )}
      {dialog?.kind === "delete" && (
        <Confirm
          title={`Delete ${c.noun}`}
          action={`Delete ${c.noun}`}
          danger
          body={`Delete ${c.label(dialog.row)}? This cannot be undone.`}
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await post(...c.remove(dialog.row));
            notify(`${c.label(dialog.row)} deleted`);
            list.reload();
          }}
        />
      )}
    </Page>
  );
}

export function asRows(value: unknown, field?: string): Row[] {
  const found = field && value && typeof value === "object" && !Array.isArray(value) ? (value as Row)[field] : value;
  return Array.isArray(found) ? found.filter((r): r is Row => typeof r === "object" && r !== null) : [];
}

export function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}
