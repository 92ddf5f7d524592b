import { useState } from 'preact/hooks';
import type { ApiClient } from '@contract/client/api-client.js';
import type { User as Me } from '@contract/users.schemas.js';
import { apiFor, errorText } from './api.util.js';
import { ErrorNote, PageTitle } from './page-parts.view.js';

/** Sign in with an API key; the key is checked with GET /api/users/me before it is kept. */
export function SignInPage({ onSignedIn, reason }: { onSignedIn: (api: ApiClient, me: Me) => void; reason: string | null }) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(reason);

  const submit = async (event: Event) => {
    event.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError('Enter your API key');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const api = apiFor(trimmed);
      const me = await api.call('users.me', {});
      onSignedIn(api, me);
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <PageTitle title="Sign in">Sign in to AppVault</PageTitle>
      <p>
        Use your API key. It is kept in this browser tab only (session storage) and sent as <code>Authorization: Bearer</code> to the API; closing the tab
        forgets it. The first administrator's key is in <code>data/admin-token</code>.
      </p>
      <form onSubmit={submit} method="post" action="#">
        <label for="api-key">API key</label>
        <input id="api-key" name="apiKey" type="password" autocomplete="current-password" spellcheck={false} value={key} onInput={(e) => setKey(e.currentTarget.value)} required />
        <ErrorNote message={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
