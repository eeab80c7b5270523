// settings.mjs — the page's controls read as engine options: sampling for generate/chat, RoPE
// scaling and threads for load. The engine validates them again (NtkError ARG), so a value the
// browser let through still ends as a message on the page, not a broken run.
import { checkLoadOptions } from '../wasm/options.mjs';

const $ = (id) => document.getElementById(id);

// An empty field is the engine's default: the option is left out.
function numberField(id) {
  const v = $(id).value.trim();
  return v === '' ? undefined : Number(v);
}

/** generate/chat options from the Sampling panel. */
export function samplingOptions() {
  return {
    temperature: numberField('temperature'),
    topK: numberField('top-k'),
    topP: numberField('top-p'),
    minP: numberField('min-p'),
    repeatPenalty: numberField('repeat-penalty'),
    seed: numberField('seed'),
    maxTokens: numberField('max-tokens'),
  };
}

/** Set Sampling fields (a preset); keys as samplingOptions' result. */
export function setSampling(values) {
  const ids = {
    temperature: 'temperature',
    topK: 'top-k',
    topP: 'top-p',
    minP: 'min-p',
    repeatPenalty: 'repeat-penalty',
    seed: 'seed',
    maxTokens: 'max-tokens',
  };
  for (const [k, v] of Object.entries(values)) $(ids[k]).value = v ?? '';
}

/**
 * Threads to ask the engine for: all cores when the page is cross-origin isolated (a threaded
 * build needs SharedArrayBuffer) and the engine accepts that many, else 1. The engine's own
 * option check says what it supports, so a threaded build is used as soon as one exists.
 */
export function threadCount(isolated = globalThis.crossOriginIsolated, cores = navigator.hardwareConcurrency ?? 1) {
  if (!isolated || cores <= 1) return 1;
  try {
    checkLoadOptions({ threads: cores });
    return cores;
  } catch {
    return 1;
  }
}

/** The fields of the RoPE-and-context panel: load options, so changing one reloads the model. */
export const LOAD_FIELDS = ['rope-mode', 'rope-factor', 'kv-type', 'max-context'];

/** load options from the RoPE-and-context panel, with the thread count. */
export function loadOptions() {
  return {
    ropeMode: $('rope-mode').value || undefined,
    ropeFactor: numberField('rope-factor'),
    kvType: $('kv-type').value || undefined,
    maxContext: numberField('max-context'),
    threads: threadCount(),
  };
}
