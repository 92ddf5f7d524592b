/** The app name rule of docs/api.md, checked in the form before anything is sent. */
export const NAME_RULE = /^[a-z0-9]+(-[a-z0-9]+)*$/;
export const NAME_MAX = 40;

export function nameProblem(name: string): string | null {
  if (!name) return 'Choose a name for the restored app';
  if (name.length > NAME_MAX) return `At most ${NAME_MAX} characters (this one has ${name.length})`;
  if (!NAME_RULE.test(name)) return 'Lower-case letters and digits, in words joined by single hyphens (like shop-copy)';
  return null;
}

/** Uploads the page sent, by restore id, so the job's page can say what was sent. */
export const sentUploads = new Map<string, { fileName: string; bytes: number }>();
