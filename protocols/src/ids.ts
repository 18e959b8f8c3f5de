/**
 * Identifier rules. Ids appear in MQTT topics, InfluxDB tags and file names, so they are restricted to a
 * safe alphabet: no MQTT wildcards (+ #), no separators (/), no spaces or commas (line protocol).
 */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';
const ID_RE = new RegExp(ID_PATTERN);

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_RE.test(id);
}

export function assertValidId(id: string, what = 'id'): string {
  if (!isValidId(id)) throw new TypeError(`invalid ${what} ${JSON.stringify(id)}: must match ${ID_PATTERN}`);
  return id;
}
