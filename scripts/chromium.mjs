// chromium.mjs — how this project starts Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), for the browser tests and the bench alike: the flags of docs/DESIGN.md,
// Toolchain (no GPU, no background traffic on a closed network, nothing of a user's profile).
// CHROMIUM overrides the path.
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
