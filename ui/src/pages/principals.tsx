import { limits, money } from "../format";
import { Badge, Budget, Chips } from "../ui";
import { asRows, EntityPage, str, type EntityConfig, type Row } from "./entity";

const BUDGET_FIELDS = [
  { name: "max_budget", label: "Max budget (USD)", kind: "number" as const, placeholder: "no budget" },
  { name: "budget_duration", label: "Budget resets every", kind: "text" as const, placeholder: "e.g. 30d, 24h, 1mo" },
  { name: "rpm_limit", label: "Requests / minute", kind: "integer" as const, placeholder: "no limit" },
  { name: "tpm_limit", label: "Tokens / minute", kind: "integer" as const, placeholder: "no limit" },
];

const blockedBadge = (row: Row) => (row.blocked === true ? <Badge tone="bad">Blocked</Badge> : <Badge tone="good">Active</Badge>);
const mono = (value: unknown) => <span class="mono-soft">{str(value) || "—"}</span>;
const principalNote = "Teams, users and customers come with Gatehouse's governance API; keys, spend and the live log work without it.";

export const TEAMS: EntityConfig = {
  title: "Teams",
  subtitle: "Groups of keys sharing models, limits and a budget.",
  noun: "team",
  testid: "team",
  listRoute: "/team/list",
  rows: (answer) => asRows(answer),
  id: (row) => str(row.team_id),
  label: (row) => (row.team_alias ? `“${str(row.team_alias)}”` : `team ${str(row.team_id)}`),
  search: (row) => [row.team_alias, row.team_id],
  columns: [
    {
      label: "Team",
      render: (row) => (
        <div class="cell-main">
          <span class="strong">{str(row.team_alias) || "(no alias)"}</span>
          <span class="mono muted">{str(row.team_id)}</span>
        </div>
      ),
    },
    { label: "Models", render: (row) => <Chips items={row.models} empty="all models" /> },
    { label: "Members", align: "right", render: (row) => (Array.isArray(row.members_with_roles) ? row.members_with_roles.length : "—") },
    { label: "Keys", align: "right", render: (row) => (Array.isArray(row.keys) ? row.keys.length : "—") },
    { label: "Spend", width: "160px", render: (row) => <Budget spend={row.spend} max={row.max_budget} money={money} /> },
    { label: "Limits", render: (row) => <span class="muted">{limits(row)}</span> },
    { label: "Status", render: blockedBadge },
  ],
  fields: [
    { name: "team_alias", label: "Alias", kind: "text", placeholder: "platform" },
    { name: "team_id", label: "Team ID", kind: "text", placeholder: "generated when empty", createOnly: true },
    { name: "models", label: "Models", kind: "list", placeholder: "all models", help: "Comma-separated; empty allows every model." },
    ...BUDGET_FIELDS,
    { name: "max_parallel_requests", label: "Parallel requests", kind: "integer", placeholder: "no limit" },
    { name: "metadata", label: "Metadata (JSON)", kind: "json" },
  ],
  create: "/team/new",
  update: (row, body) => ["/team/update", { team_id: row.team_id, ...body }],
  remove: (row) => ["/team/delete", { team_ids: [row.team_id] }],
  block: (row, blocked) => [blocked ? "/team/block" : "/team/unblock", { team_id: row.team_id }],
  unavailableNote: principalNote,
};

export const USERS: EntityConfig = {
  title: "Users",
  subtitle: "Internal users: people who own keys and belong to teams.",
  noun: "user",
  testid: "user",
  listRoute: "/user/list",
  rows: (answer) => asRows(answer, Array.isArray(answer) ? undefined : "users"),
  id: (row) => str(row.user_id),
  label: (row) => `user ${str(row.user_alias) || str(row.user_email) || str(row.user_id)}`,
  search: (row) => [row.user_id, row.user_email, row.user_alias],
  columns: [
    {
      label: "User",
      render: (row) => (
        <div class="cell-main">
          <span class="strong">{str(row.user_alias) || str(row.user_email) || str(row.user_id)}</span>
          <span class="mono muted">{str(row.user_id)}</span>
        </div>
      ),
    },
    { label: "Email", render: (row) => mono(row.user_email) },
    { label: "Role", render: (row) => <Badge tone={row.user_role === "proxy_admin" ? "info" : "neutral"}>{str(row.user_role) || "internal_user"}</Badge> },
    { label: "Models", render: (row) => <Chips items={row.models} empty="all models" /> },
    { label: "Spend", width: "160px", render: (row) => <Budget spend={row.spend} max={row.max_budget} money={money} /> },
    { label: "Limits", render: (row) => <span class="muted">{limits(row)}</span> },
  ],
  fields: [
    { name: "user_id", label: "User ID", kind: "text", placeholder: "generated when empty", createOnly: true },
    { name: "user_email", label: "Email", kind: "text", placeholder: "ada@example.com" },
    { name: "user_alias", label: "Display name", kind: "text" },
    { name: "user_role", label: "Role", kind: "select", options: ["internal_user", "internal_user_viewer", "proxy_admin", "proxy_admin_viewer"] },
    { name: "models", label: "Models", kind: "list", placeholder: "all models" },
    ...BUDGET_FIELDS,
    { name: "auto_create_key", label: "Key", kind: "bool", placeholder: "Also create a key for this user", createOnly: true },
  ],
  create: "/user/new",
  update: (row, body) => ["/user/update", { user_id: row.user_id, ...body }],
  remove: (row) => ["/user/delete", { user_ids: [row.user_id] }],
  unavailableNote: principalNote,
};

/** A customer's limits may live in its budget tier (``litellm_budget_table``). */
function customerLimits(row: Row): Row {
  const tier = row.litellm_budget_table && typeof row.litellm_budget_table === "object" ? (row.litellm_budget_table as Row) : {};
  const pick = (name: string) => (row[name] ?? tier[name] ?? null);
  return { ...row, max_budget: pick("max_budget"), budget_duration: pick("budget_duration"), rpm_limit: pick("rpm_limit"), tpm_limit: pick("tpm_limit") };
}

export const CUSTOMERS: EntityConfig = {
  title: "Customers",
  subtitle: "End users, named by the request's user field, with their own budgets.",
  noun: "customer",
  testid: "customer",
  listRoute: "/customer/list",
  rows: (answer) => asRows(answer).map(customerLimits),
  id: (row) => str(row.user_id),
  label: (row) => `customer ${str(row.alias) || str(row.user_id)}`,
  search: (row) => [row.user_id, row.alias],
  flatten: customerLimits,
  columns: [
    {
      label: "Customer",
      render: (row) => (
        <div class="cell-main">
          <span class="strong">{str(row.alias) || str(row.user_id)}</span>
          <span class="mono muted">{str(row.user_id)}</span>
        </div>
      ),
    },
    { label: "Budget tier", render: (row) => mono(row.budget_id) },
    { label: "Models", render: (row) => <Chips items={row.models} empty="all models" /> },
    { label: "Spend", width: "160px", render: (row) => <Budget spend={row.spend} max={row.max_budget} money={money} /> },
    { label: "Limits", render: (row) => <span class="muted">{limits(row)}</span> },
    { label: "Status", render: blockedBadge },
  ],
  fields: [
    { name: "user_id", label: "Customer ID", kind: "text", required: true, placeholder: "the request's user value", createOnly: true },
    { name: "alias", label: "Alias", kind: "text" },
    { name: "budget_id", label: "Budget tier", kind: "text", placeholder: "or set a budget below" },
    { name: "models", label: "Models", kind: "list", placeholder: "all models" },
    ...BUDGET_FIELDS,
  ],
  create: "/customer/new",
  update: (row, body) => ["/customer/update", { user_id: row.user_id, ...body }],
  remove: (row) => ["/customer/delete", { user_ids: [row.user_id] }],
  block: (row, blocked) => [blocked ? "/customer/block" : "/customer/unblock", { user_ids: [row.user_id] }],
  unavailableNote: principalNote,
};

export const TeamsPage = () => <EntityPage config={TEAMS} />;
export const UsersPage = () => <EntityPage config={USERS} />;
export const CustomersPage = () => <EntityPage config={CUSTOMERS} />;
