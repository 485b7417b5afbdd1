import { describe, expect, it } from 'vitest';
import { DomainError } from '@keyflow/contracts';
import { changeEvent, HEARTBEAT, resumeRevision } from './watch-event.util';

describe(resumeRevision.name, () => {
  it('should take Last-Event-ID before fromRevision, and neither when both are absent', () => {
    expect(resumeRevision('42', '7')).toBe(42);
    expect(resumeRevision(undefined, '7')).toBe(7);
    expect(resumeRevision(' 0 ', undefined)).toBe(0);
    expect(resumeRevision(undefined, undefined)).toBeUndefined();
    // An empty id is the SSE reset: no id at all.
    expect(resumeRevision('', '5')).toBe(5);
  });

  it.each(['abc', '-1', '1.5', '1e3', '0x10', '007', '', '9999999999999999', '12abc'])(
    'should refuse fromRevision %j as invalid-request',
    (text) => {
      expect(() => resumeRevision(undefined, text)).toThrow(DomainError);
      expect(() => resumeRevision(undefined, text)).toThrow(/^fromRevision must be a revision: a whole number from 0/);
    },
  );

  it('should name Last-Event-ID when that is what is wrong', () => {
    expect(() => resumeRevision('x1', '3')).toThrow(/^Last-Event-ID must be a revision/);
  });
});

describe(changeEvent.name, () => {
  const at = '2026-12-01T10:00:00.000Z';

  it('should encode a put with its stored value spliced in as it is, and the revision as the id', () => {
    const frame = changeEvent(
      { kind: 'put', key: 'user:"42"', version: 3, updatedAt: at },
      1042,
      '{"b":[1,2.5],"a":"é"}',
    );

    expect(frame).toBe(
      'event: put\nid: 1042\n' +
        `data: {"key":"user:\\"42\\"","version":3,"value":{"b":[1,2.5],"a":"é"},"revision":1042,"updatedAt":"${at}"}\n\n`,
    );
    const data = frame.split('\n')[2]?.slice('data: '.length) ?? '';
    expect(JSON.parse(data)).toEqual({
      key: 'user:"42"',
      version: 3,
      value: { b: [1, 2.5], a: 'é' },
      revision: 1042,
      updatedAt: at,
    });
  });

  it('should encode deletes and expiries without a value', () => {
    expect(changeEvent({ kind: 'delete', key: 'k', version: 4, updatedAt: at }, 7)).toBe(
      `event: delete\nid: 7\ndata: {"key":"k","version":4,"revision":7,"updatedAt":"${at}"}\n\n`,
    );
    expect(changeEvent({ kind: 'expire', key: 'k', version: 5, updatedAt: at }, 8, '')).toBe(
      `event: expire\nid: 8\ndata: {"key":"k","version":5,"revision":8,"updatedAt":"${at}"}\n\n`,
    );
  });

  it('should keep the data on one line whatever the value text holds, and write a line break in a key escaped', () => {
    const frame = changeEvent({ kind: 'put', key: 'a\nb', version: 1, updatedAt: at }, 1, '{\n"s": "x"\n}');

    expect(frame.split('\n')).toHaveLength(5);
    expect(frame).toContain('"key":"a\\nb","version":1,"value":{"s":"x"}');
  });

  it('should be a comment that clients ignore', () => {
    expect(HEARTBEAT).toBe(': ping\n\n');
  });
});
