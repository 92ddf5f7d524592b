/** The API key lives in this tab's session storage only: never in a URL, gone when the tab closes. */
const KEY = 'appvault.apiKey';

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key) sessionStorage.setItem(KEY, key);
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage refused (private mode): the key stays in memory for this page only.
  }
}
