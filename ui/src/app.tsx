import { useEffect, useState } from "preact/hooks";
import { ApiError, call, forgetKey, onSignedOut, savedKey, saveKey } from "./api";
import { CustomersPage, TeamsPage, UsersPage } from "./pages/principals";
import { Icon } from "./icons";
import { KeysPage } from "./pages/keys";
import { RequestsPage } from "./pages/requests";
import { SpendPage } from "./pages/spend";
import { Button, Spinner, Toasts } from "./ui";

export interface Session {
  user_id: string | null;
  user_role: string | null;
  master_key: boolean;
  gatehouse_version: string;
  auth: string;
  request_log: { enabled: boolean; size: number; content: boolean };
}

const PAGES = [
  { path: "requests", label: "Live log", page: RequestsPage },
  { path: "keys", label: "Keys", page: KeysPage },
  { path: "teams", label: "Teams", page: TeamsPage },
  { path: "users", label: "Users", page: UsersPage },
  { path: "customers", label: "Customers", page: CustomersPage },
  { path: "spend", label: "Spend", page: SpendPage },
];

function currentPath(): string {
  const path = location.hash.replace(/^#\/?/, "").split("/")[0];
  return PAGES.some((p) => p.path === path) ? path : "keys";
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(savedKey() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  const [path, setPath] = useState(currentPath());

  useEffect(() => {
    const onHash = () => setPath(currentPath());
    window.addEventListener("hashchange", onHash);
    onSignedOut(() => {
      forgetKey();
      setSession(null);
      setNotice("The gateway no longer accepts this key. Sign in again.");
    });
    const key = savedKey();
    if (key) {
      call<Session>("GET", "/ui/api/session", undefined, undefined, key).then(
        (s) => {
          setSession(s);
          setChecking(false);
        },
        () => {
          forgetKey();
          setChecking(false);
        },
      );
    }
    // keeps the live log recording while the console is open, and notices a revoked key
    const keepAlive = setInterval(() => {
      if (savedKey()) call<Session>("GET", "/ui/api/session").catch(() => undefined);
    }, 240_000);
    return () => {
      window.removeEventListener("hashchange", onHash);
      clearInterval(keepAlive);
    };
  }, []);

  if (checking) return <Spinner />;
  if (!session) {
    return (
      <>
        <Login
          notice={notice}
          onSignedIn={(s) => {
            setNotice(null);
            setSession(s);
          }}
        />
        <Toasts />
      </>
    );
  }
  const Current = PAGES.find((p) => p.path === path)!.page;
  const signOut = () => {
    forgetKey();
    setSession(null);
  };
  return (
    <div class="shell">
      <aside class="sidebar">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          <div>
            <div class="brand-name">Gatehouse</div>
            <div class="brand-sub">Admin console</div>
          </div>
        </div>
        <nav>
          {PAGES.map((p) => (
            <a href={`#/${p.path}`} class={p.path === path ? "active" : ""} data-testid={`nav-${p.path}`}>
              <span class="nav-icon">
                <Icon name={p.path} />
              </span>
              {p.label}
            </a>
          ))}
        </nav>
        <div class="sidebar-foot">
          <div class="muted small">Gatehouse {session.gatehouse_version}</div>
          <div class="muted small">{session.auth}</div>
        </div>
      </aside>
      <div class="main">
        <header class="topbar">
          <div class="who">
            <span class="avatar" aria-hidden="true">
              {session.master_key ? "M" : (session.user_id ?? "A").slice(0, 1).toUpperCase()}
            </span>
            <div>
              <div class="strong">{session.master_key ? "Master key" : session.user_id ?? "Admin"}</div>
              <div class="muted small">{session.user_role ?? "proxy_admin"}</div>
            </div>
          </div>
          <Button small onClick={signOut} testid="sign-out">
            Sign out
          </Button>
        </header>
        <main class="content">
          <Current />
        </main>
      </div>
      <Toasts />
    </div>
  );
}

function Login(props: { notice: string | null; onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(props.notice);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const typed = key.trim();
    if (!typed) return setError("Enter the master key or an admin's key.");
    setBusy(true);
    setError(null);
    try {
      const session = await call<Session>("GET", "/ui/api/session", undefined, undefined, typed);
      saveKey(typed);
      setKey("");
      props.onSignedIn(session);
    } catch (problem) {
      setBusy(false);
      if (problem instanceof ApiError && (problem.status === 401 || problem.status === 403)) {
        setError("This key is not an admin key for this gateway.");
      } else {
        setError(problem instanceof Error ? problem.message : String(problem));
      }
    }
  };
  return (
    <div class="login">
      <form class="login-card" onSubmit={submit} noValidate>
        <div class="brand brand-login">
          <span class="brand-mark" aria-hidden="true" />
          <div>
            <div class="brand-name">Gatehouse</div>
            <div class="brand-sub">Admin console</div>
          </div>
        </div>
        <h1>Sign in</h1>
        <p class="muted">Use the gateway's master key, or the key of a user with the proxy_admin role.</p>
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          name="admin-key"
          type="password"
          autocomplete="off"
          placeholder="sk-…"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          autofocus
        />
        {error && (
          <div class="form-error" role="alert" data-testid="login-error">
            {error}
          </div>
        )}
        <Button kind="primary" type="submit" disabled={busy} testid="sign-in">
          {busy ? "Signing in…" : "Sign in"}
        </Button>
        <p class="muted small">The key stays in this browser tab's session storage and is sent only in the Authorization header.</p>
      </form>
    </div>
  );
}
