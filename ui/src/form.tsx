// A form described by data: what each field is, how its text becomes the JSON the API takes.
import { useState } from "preact/hooks";
import { ApiError } from "./api";
import { Button, Modal } from "./ui";

export type Kind = "text" | "number" | "integer" | "list" | "json" | "select" | "bool" | "password";

export interface FieldSpec {
  name: string;
  label: string;
  kind: Kind;
  placeholder?: string;
  help?: string;
  options?: string[];
  required?: boolean;
  createOnly?: boolean;
  wide?: boolean;
}

type Values = Record<string, string | boolean>;

function initial(spec: FieldSpec, value: unknown): string | boolean {
  if (spec.kind === "bool") return value === true;
  if (value === null || value === undefined) return spec.kind === "select" ? spec.options?.[0] ?? "" : "";
  if (spec.kind === "list") return Array.isArray(value) ? value.join(", ") : String(value);
  if (spec.kind === "json") return typeof value === "object" && Object.keys(value as object).length ? JSON.stringify(value, null, 2) : "";
  return String(value);
}

class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

function parse(spec: FieldSpec, raw: string | boolean): unknown {
  if (spec.kind === "bool") return raw === true;
  const text = String(raw).trim();
  if (text === "") {
    if (spec.required) throw new FieldError(spec.name, `${spec.label} is required`);
    if (spec.kind === "list") return [];
    if (spec.kind === "json") return {};
    return null;
  }
  switch (spec.kind) {
    case "number": {
      const n = Number(text);
      if (!Number.isFinite(n) || n < 0) throw new FieldError(spec.name, `${spec.label} must be a number ≥ 0`);
      return n;
    }
    case "integer": {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0) throw new FieldError(spec.name, `${spec.label} must be a whole number ≥ 0`);
      return n;
    }
    case "list":
      return text.split(",").map((s) => s.trim()).filter(Boolean);
    case "json": {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        throw new FieldError(spec.name, `${spec.label} must be JSON`);
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new FieldError(spec.name, `${spec.label} must be a JSON object`);
      }
      return value;
    }
    default:
      return text;
  }
}

/** The request body: every filled field when creating; only the changed ones when editing. */
function body(specs: FieldSpec[], values: Values, start: Values, editing: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of specs) {
    if (editing && spec.createOnly) continue;
    const value = parse(spec, values[spec.name]);
    if (editing) {
      if (JSON.stringify(value) !== JSON.stringify(parse({ ...spec, required: false }, start[spec.name]))) out[spec.name] = value;
    } else if (value !== null && !(Array.isArray(value) && !value.length) && !(spec.kind === "json" && !Object.keys(value as object).length) && !(spec.kind === "bool" && value === false)) {
      out[spec.name] = value;
    }
  }
  return out;
}

export function FormModal(props: {
  title: string;
  fields: FieldSpec[];
  row?: Record<string, unknown>;
  submit: string;
  onSubmit: (body: Record<string, unknown>) => Promise<void>;
  onClose: () => void;
}) {
  const editing = props.row !== undefined;
  const [start] = useState<Values>(() => Object.fromEntries(props.fields.map((f) => [f.name, initial(f, props.row?.[f.name])])));
  const [values, setValues] = useState<Values>(start);
  const [error, setError] = useState<{ field: string | null; message: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    let payload: Record<string, unknown>;
    try {
      payload = body(props.fields, values, start, editing);
    } catch (problem) {
      if (problem instanceof FieldError) return setError({ field: problem.field, message: problem.message });
      throw problem;
    }
    setBusy(true);
    try {
      await props.onSubmit(payload);
      props.onClose();
    } catch (problem) {
      const field = problem instanceof ApiError ? problem.param : null;
      setError({ field, message: problem instanceof Error ? problem.message : String(problem) });
      setBusy(false);
    }
  };

  const set = (name: string, value: string | boolean) => setValues({ ...values, [name]: value });
  const shown = props.fields.filter((f) => !(editing && f.createOnly));
  return (
    <Modal title={props.title} onClose={props.onClose} wide>
      <form class="form" onSubmit={submit} noValidate>
        <div class="form-grid">
          {shown.map((spec) => (
            <Field spec={spec} value={values[spec.name]} invalid={error?.field === spec.name} onChange={(v) => set(spec.name, v)} />
          ))}
        </div>
        {error && (
          <div class="form-error" role="alert" data-testid="form-error">
            {error.message}
          </div>
        )}
        <div class="modal-foot">
          <Button onClick={props.onClose}>Cancel</Button>
          <Button kind="primary" type="submit" disabled={busy} testid="submit">
            {props.submit}
          </Button>
        </div>
      </form>
    </Modal>
  );
}

function Field(props: { spec: FieldSpec; value: string | boolean; invalid: boolean; onChange: (value: string | boolean) => void }) {
  const { spec } = props;
  const id = `field-${spec.name}`;
  const onInput = (event: Event) => props.onChange((event.currentTarget as HTMLInputElement).value);
  let control;
  if (spec.kind === "bool") {
    control = (
      <label class="check">
        <input id={id} name={spec.name} type="checkbox" checked={props.value === true} onChange={(e: Event) => props.onChange((e.currentTarget as HTMLInputElement).checked)} />
        <span>{spec.placeholder ?? spec.label}</span>
      </label>
    );
  } else if (spec.kind === "select") {
    control = (
      <select id={id} name={spec.name} value={String(props.value)} onChange={onInput}>
        {(spec.options ?? []).map((o) => (
          <option value={o}>{o}</option>
        ))}
      </select>
    );
  } else if (spec.kind === "json") {
    control = <textarea id={id} name={spec.name} rows={3} value={String(props.value)} placeholder={spec.placeholder} onInput={onInput} spellcheck={false} />;
  } else if (spec.kind === "password") {
    control = <input id={id} name={spec.name} type="password" value={String(props.value)} placeholder={spec.placeholder} onInput={onInput} autocomplete="off" />;
  } else {
    control = (
      <input
        id={id}
        name={spec.name}
        type="text"
        inputMode={spec.kind === "number" ? "decimal" : spec.kind === "integer" ? "numeric" : undefined}
        value={String(props.value)}
        placeholder={spec.placeholder}
        onInput={onInput}
        autocomplete="off"
      />
    );
  }
  return (
    <div class={`field${spec.wide || spec.kind === "json" ? " field-wide" : ""}${props.invalid ? " field-invalid" : ""}`}>
      {spec.kind !== "bool" && (
        <label for={id}>
          {spec.label}
          {spec.required && <span class="req"> *</span>}
        </label>
      )}
      {control}
      {spec.help && <small class="help">{spec.help}</small>}
    </div>
  );
}
