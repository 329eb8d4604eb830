// The management API, called with the admin key from session storage.
// The key goes only into the Authorization header: never into a URL, never into a log.

const STORE = "gatehouse.adminKey";

export function savedKey(): string | null {
  return sessionStorage.getItem(STORE);
}

export function saveKey(key: string): void {
  sessionStorage.setItem(STORE, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(STORE);
}

/** An error answer of the gateway (OpenAI error body), or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }

  /** The route does not exist on this gateway (a management API not merged, or switched off). */
  get unavailable(): boolean {
    return this.status === 405 || (this.status === 404 && this.message.startsWith("No route for"));
  }
}

type Listener = () => void;
const signedOut: Listener[] = [];

/** Called when the gateway refuses the saved key (401): the console goes back to its sign-in form. */
export function onSignedOut(listener: Listener): void {
  signedOut.push(listener);
}

export type Query = Record<string, string | number | boolean | undefined | null>;

function url(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export async function call<T>(method: string, path: string, body?: unknown, query?: Query, key?: string): Promise<T> {
  const token = key ?? savedKey();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "The gateway cannot be reached.");
  }
  const text = await response.text();
  let payload: unknown = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const error = (payload as { error?: { message?: unknown; type?: unknown; param?: unknown } } | null)?.error;
    const message = typeof error?.message === "string" ? error.message : `HTTP ${response.status}`;
    const failure = new ApiError(
      response.status,
      message,
      typeof error?.type === "string" ? error.type : null,
      typeof error?.param === "string" ? error.param : null,
    );
    if (response.status === 401 && key === undefined) signedOut.forEach((listener) => listener());
    throw failure;
  }
  return payload as T;
}

export const get = <T>(path: string, query?: Query) => call<T>("GET", path, undefined, query);
export const post = <T>(path: string, body: unknown) => call<T>("POST", path, body);

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/** Server-Sent Events over fetch (EventSource cannot send an Authorization header). */
export async function stream(path: string, query: Query, onEvent: (event: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const token = savedKey();
  const response = await fetch(url(path, query), {
    headers: { Accept: "text/event-stream", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    credentials: "omit",
    cache: "no-store",
    signal,
  });
  if (!response.ok || !response.body) {
    if (response.status === 401) signedOut.forEach((listener) => listener());
    throw new ApiError(response.status, `HTTP ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: SseEvent = { event: "message", data: "", id: null };
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event.event = text;
        else if (field === "data") data.push(text);
        else if (field === "id") event.id = text;
      }
      if (data.length) {
        event.data = data.join("\n");
        onEvent(event);
      }
    }
  }
}
