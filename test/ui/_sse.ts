// Server-sent events as the dashboard's page sees them, for the tests and bench/ui.ts:
// a buffer of the stream's text split into complete events, the rest kept for the next chunk.
export interface SseEvent {
  type: string;
  data: any;
}

/** The complete events at the start of `buf` (each ends with a blank line) and what follows them. */
export function takeEvents(buf: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  let i;
  while ((i = buf.indexOf('\n\n')) >= 0) {
    const block = buf.slice(0, i);
    buf = buf.slice(i + 2);
    const type = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (data !== undefined) events.push({ type, data: JSON.parse(data) });
  }
  return { events, rest: buf };
}
