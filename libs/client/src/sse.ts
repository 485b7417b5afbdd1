/** One Server-Sent Event: its type (`message` unless named), the `id` it carried, its data lines joined by `\n`. */
export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/**
 * Reads `text/event-stream` text as it arrives, in chunks cut anywhere (WHATWG HTML, "Parsing an event stream"):
 * lines end with CRLF, LF or CR; a blank line dispatches the event; `:` lines are comments (heartbeats); an event
 * with no data is not dispatched; fields it does not know (`retry`) are ignored.
 */
export class SseParser {
  private buffer = '';
  private pendingCr = false;
  private event = '';
  private data: string[] = [];
  private id: string | undefined;

  push(chunk: string): SseEvent[] {
    let text = chunk;
    // A CR that ended the last chunk and an LF that starts this one are one line break.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = text.endsWith('\r');
    this.buffer += text;
    const events: SseEvent[] = [];
    const lines = this.buffer.split(/\r\n|\n|\r/);
    this.buffer = lines.pop() ?? '';
    for (const line of lines) {
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const { event, data, id } = this;
    this.event = '';
    this.data = [];
    this.id = undefined;
    if (data.length === 0) return undefined;
    return { event: event || 'message', data: data.join('\n'), ...(id !== undefined ? { id } : {}) };
  }
}
