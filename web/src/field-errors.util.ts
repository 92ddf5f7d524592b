/**
 * A 400's message split by the field each problem names, so a form can show it next to that field.
 * The API words each problem `field: what is wrong` (a nested one `field.sub.0: …`) and joins
 * several with "; "; a problem's own words may hold "; " too, so a new problem starts only where
 * "; " is followed by one of the request's field names (`fields`). Problems of the `placed` fields
 * are handed back by field; everything else stays in `rest`, in the order the API gave it.
 */
export interface FieldErrors<F extends string> {
  byField: Partial<Record<F, string>>;
  rest: string | null;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function fieldErrors<F extends string>(message: string | null, fields: readonly string[], placed: readonly F[]): FieldErrors<F> {
  if (!message) return { byField: {}, rest: null };
  const names = fields.map(escape).join('|');
  const parts = message.split(new RegExp(`; (?=(?:${names})(?:\\.[\\w.]+)?: )`));
  const byField: Partial<Record<F, string>> = {};
  const rest: string[] = [];
  for (const part of parts) {
    const field = placed.find((name) => part.startsWith(`${name}: `) || part.startsWith(`${name}.`));
    if (field === undefined) rest.push(part);
    else byField[field] = byField[field] ? `${byField[field]}; ${part}` : part;
  }
  return { byField, rest: rest.length > 0 ? rest.join('; ') : null };
}
