/** Server-Sent Events, just what the service and its client need: named events with JSON data. */
export function sseEvent(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

export interface SseMessage {
  event: string;
  data: unknown;
}

/** Feeds raw chunks in, hands whole events out (an event may arrive split across chunks). */
export class SseParser {
  private buffer = '';

  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const messages: SseMessage[] = [];
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length > 0) messages.push({ event, data: JSON.parse(data.join('\n')) as unknown });
    }
    return messages;
  }
}

/** How an error travels: enough for the client to print exactly what the in-process path prints. */
export interface WireError {
  message: string;
  hint?: string;
  exitCode: number;
  /** Not a RagossError: the client reports it as an unexpected error. */
  unexpected?: boolean;
}
