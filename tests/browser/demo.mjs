// demo.mjs — driving the demo page (web/) through its controls, as a person would: shared by the
// suites that open it from the repository (web.test.mjs) and as `make site` writes it
// (site.test.mjs). demoPage(page) gives the steps for one Playwright page.

/** Greedy sampling that a test compares with Node's Engine (seed set, so the text is the same). */
export const GREEDY = { temperature: 0, seed: 1, maxTokens: 20 };

export function demoPage(page) {
  const text = (sel) => page.locator(sel).textContent();
  const waitStatus = (re, timeout = 30_000) =>
    page.waitForFunction((src) => new RegExp(src).test(document.getElementById('status').textContent), re.source, {
      timeout,
    });
  const idle = () =>
    page.waitForFunction(() => document.body.dataset.state === 'idle' && !document.querySelector('.streaming'), null, {
      timeout: 60_000,
    });
  const setField = (id, value) => page.locator(`#${id}`).fill(String(value));

  /** Generate in completion mode from the prompt box, sending with the keyboard; returns the streamed text. */
  async function generate(prompt) {
    await page.selectOption('#format', 'completion');
    for (const [id, v] of [
      ['temperature', GREEDY.temperature],
      ['seed', GREEDY.seed],
      ['max-tokens', GREEDY.maxTokens],
    ])
      await setField(id, v);
    await page.locator('#prompt').fill(prompt);
    await page.locator('#prompt').press('Control+Enter');
    await page.waitForSelector('.turn.assistant');
    await idle();
    return text('.turn.assistant');
  }

  return { text, waitStatus, idle, setField, generate };
}
