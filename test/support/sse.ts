/** One server-sent event as the test reads it off the wire. */
export interface SseMessage {
  event: string;
  data: unknown;
}

/**
 * Reads a `text/event-stream` response to its end (the server ends job streams when the job
 * does), parsing each message; comment lines (keep-alives) are skipped.
 */
export async function readEventStream(url: string, token: string, timeoutMs = 120_000): Promise<{ status: number; contentType: string; messages: SseMessage[] }> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: AbortSignal.timeout(timeoutMs) });
  const contentType = response.headers.get('content-type') ?? '';
  if (!contentType.startsWith('text/event-stream')) return { status: response.status, contentType, messages: [{ event: 'body', data: await response.json().catch(() => null) }] };
  const messages: SseMessage[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) messages.push({ event, data: JSON.parse(data.join('\n')) });
    }
  }
  return { status: response.status, contentType, messages };
}
