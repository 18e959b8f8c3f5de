/** Polls `cond` every `every` ms until it holds; after `ms` it fails, naming what it waited for (a string, or a
 * function called at the timeout so the message can describe what was seen so far). */
export async function waitFor(cond: () => boolean, what: string | (() => string), ms = 20_000, every = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
