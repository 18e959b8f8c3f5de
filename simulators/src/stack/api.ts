/** A small client of the cloud's HTTP API, as an installer's or operator's tool would use it. */
export class CloudApi {
  private token = '';
  constructor(readonly baseUrl: string) {}

  async login(name: string, password: string): Promise<this> {
    const r = await this.call('POST', '/api/login', { name, password }, false);
    this.token = (r as { token: string }).token;
    return this;
  }

  async call(method: string, path: string, body?: unknown, auth = true): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(auth && this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed: unknown = text ? JSON.parse(text) : undefined;
    if (!res.ok) throw Object.assign(new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`), { status: res.status });
    return parsed;
  }
}
