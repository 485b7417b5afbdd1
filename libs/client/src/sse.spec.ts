import { describe, expect, it } from 'vitest';
import { SseParser } from './sse';

describe(SseParser.name, () => {
  it('should read events cut anywhere, with ids, types, comments and multi-line data', () => {
    const stream =
      ': heartbeat\n\nevent: put\nid: 7\ndata: {"key":"a",\ndata: "version":1}\n\r\nevent: delete\r\nid:8\r\ndata:{"key":"a"}\r\n\r\ndata: plain\rretry: 10\r\r';
    for (const size of [1, 2, 3, 7, stream.length]) {
      const parser = new SseParser();
      const events = [];
      for (let i = 0; i < stream.length; i += size) events.push(...parser.push(stream.slice(i, i + size)));
      expect(events).toEqual([
        { event: 'put', id: '7', data: '{"key":"a",\n"version":1}' },
        { event: 'delete', id: '8', data: '{"key":"a"}' },
        { event: 'message', data: 'plain' },
      ]);
    }
  });

  it('should not dispatch an event without data, nor one whose blank line has not come yet', () => {
    const parser = new SseParser();
    expect(parser.push('event: put\nid: 1\n\n')).toEqual([]);
    expect(parser.push('data: x\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ event: 'message', data: 'x' }]);
  });
});
