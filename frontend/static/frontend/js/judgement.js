// The annotator's answers for one assignment, in the terms they saw (left/right), and the submit body.

export const CHOICES = ["left", "tie", "right"];
export const SIDES = ["left", "right"];
export const MOS_DIMENSIONS = ["VQ", "MQ", "TA"];

export class Judgement {
  constructor(assignment) {
    this.assignment = assignment;
    this.dimensions = assignment.dimensions;
    this.asksMos = Boolean(assignment.asks_mos);
    this.labels = {};
    this.checklist = { left: {}, right: {} };
    this.mos = { left: {}, right: {} };
    // One key per assignment, kept across retries: a resent submit is recognised instead of stored twice.
    this.idempotencyKey = newKey();
  }

  choose(dimension, choice) {
    if (!this.dimensions.includes(dimension) || !CHOICES.includes(choice)) return;
    this.labels[dimension] = choice;
  }

  toggleItem(side, dimension, key, on) {
    const keys = new Set(this.checklist[side][dimension] || []);
    if (on) keys.add(key);
    else keys.delete(key);
    this.checklist[side][dimension] = [...keys];
  }

  isTicked(side, dimension, key) {
    return (this.checklist[side][dimension] || []).includes(key);
  }

  setMos(side, dimension, score) {
    this.mos[side][dimension] = score;
  }

  // What is still needed before submitting, in words for the hint next to the button.
  missing() {
    const missing = this.dimensions.filter((d) => !this.labels[d]);
    if (this.asksMos) {
      for (const side of SIDES) {
        for (const d of MOS_DIMENSIONS) {
          if (!this.mos[side][d]) missing.push(`${side} ${d} score`);
        }
      }
    }
    return missing;
  }

  get complete() {
    return this.missing().length === 0;
  }

  body(leadTimeMs) {
    const checklist = {};
    for (const side of SIDES) {
      const perDimension = Object.fromEntries(
        Object.entries(this.checklist[side]).filter(([, keys]) => keys.length > 0),
      );
      if (Object.keys(perDimension).length) checklist[side] = perDimension;
    }
    const body = {
      labels: { ...this.labels },
      checklist,
      lead_time_ms: Math.max(0, Math.round(leadTimeMs)),
      idempotency_key: this.idempotencyKey,
    };
    if (this.asksMos) body.mos = { left: { ...this.mos.left }, right: { ...this.mos.right } };
    return body;
  }
}

function newKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  // randomUUID needs a secure context; plain-HTTP deployments on a LAN fall back to getRandomValues.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
