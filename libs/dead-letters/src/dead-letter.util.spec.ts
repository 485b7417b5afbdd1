import { describe, expect, it } from 'vitest';
import { describeDeadLetter, formatTable } from './dead-letter.util';

const message = (content: string, headers: Record<string, unknown> = {}) => ({
  content: Buffer.from(content),
  properties: { headers } as never,
});

describe(describeDeadLetter.name, () => {
  it('should read the operation and why the broker dead-lettered it', () => {
    const letter = describeDeadLetter(
      message(JSON.stringify({ id: 'op-1', key: 'user:1', type: 'put', acceptedAt: '2027-01-15T07:59:58.000Z' }), {
        'x-first-death-reason': 'delivery_limit',
        'x-first-death-queue': 'kv.shard.3',
        'x-death': [{ reason: 'delivery_limit', queue: 'kv.shard.3', time: { value: 1_800_000_000 } }],
      }),
    );
    expect(letter).toEqual({
      operationId: 'op-1',
      key: 'user:1',
      type: 'put',
      acceptedAt: '2027-01-15T07:59:58.000Z',
      reason: 'delivery_limit',
      fromQueue: 'kv.shard.3',
      deadLetteredAt: '2027-01-15T08:00:00.000Z',
      bytes: 81,
    });
  });

  it("should read a worker's own letter (one write taken out of a batch) by its keyflow headers", () => {
    const letter = describeDeadLetter(
      message(JSON.stringify({ id: 'op-3', key: 'user:3', type: 'put', acceptedAt: '2027-01-15T07:59:58.000Z' }), {
        'keyflow-dead-lettered-by': 'worker',
        'keyflow-dead-letter-reason':
          'the write cannot be stored as sent: the number 1e999999 at /value is out of range',
        'keyflow-dead-letter-queue': 'kv.shard.5',
        'keyflow-dead-lettered-at': '2027-01-15T08:00:00.250Z',
      }),
    );
    expect(letter).toMatchObject({
      operationId: 'op-3',
      reason: 'the write cannot be stored as sent: the number 1e999999 at /value is out of range',
      fromQueue: 'kv.shard.5',
      deadLetteredAt: '2027-01-15T08:00:00.250Z',
    });
  });

  it('should name the request that made the write when the body carries its id', () => {
    const body = { id: 'op-4', key: 'user:4', type: 'delete', requestId: '0f1e2d3c4b5a69788796a5b4c3d2e1f0' };
    expect(describeDeadLetter(message(JSON.stringify(body)))).toMatchObject({
      operationId: 'op-4',
      requestId: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    });
    expect(describeDeadLetter(message(JSON.stringify({ ...body, requestId: 'not one' })))).not.toHaveProperty(
      'requestId',
    );
  });

  it('should describe a body that is not JSON by its size', () => {
    expect(describeDeadLetter(message('garbage'))).toEqual({ reason: 'unknown', bytes: 7 });
  });

  it('should leave out an accepted-at time that is not one', () => {
    expect(describeDeadLetter(message(JSON.stringify({ id: 'op-2', acceptedAt: 'yesterday' })))).toEqual({
      operationId: 'op-2',
      reason: 'unknown',
      bytes: 38,
    });
  });
});

describe(formatTable.name, () => {
  it('should say when there is nothing', () => {
    expect(formatTable([])).toBe('the dead-letter queue is empty');
  });

  it('should align columns', () => {
    const table = formatTable([{ operationId: 'a', key: 'k', type: 'put', reason: 'rejected', bytes: 1 }]);
    expect(table.split('\n')).toEqual([
      '#  operation  type  key  accepted at  reason    from  dead-lettered at',
      '1  a          put   k    ?            rejected  ?     ?',
    ]);
  });

  it('should number the rows of a later page from where it starts', () => {
    const table = formatTable([{ operationId: 'a', key: 'k', type: 'put', reason: 'rejected', bytes: 1 }], 101);
    expect(table.split('\n')[1]).toBe('101  a          put   k    ?            rejected  ?     ?');
  });
});
