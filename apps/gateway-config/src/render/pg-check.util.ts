/**
 * HAProxy's check that tells a PostgreSQL primary from a standby without forking a process: it speaks the
 * PostgreSQL wire protocol (v3) in a `tcp-check` sequence.
 *
 * 1. StartupMessage (user, database): the server answers AuthenticationOk … ReadyForQuery (`Z`, idle).
 *    This needs `trust` for the check's user from HAProxy's address, as the local stack's pg_hba has.
 * 2. Query `select pg_is_in_recovery()` and Terminate, in one send: the server answers and closes.
 * 3. Expect the DataRow holding one column `f`. A standby's `t` row does not match, and because the server
 *    closes the connection the check fails at once instead of waiting for the check timeout.
 *
 * Why not a forked `psql` (external-check): on a busy host fork + exec + connect sometimes took longer
 * than the check timeout, HAProxy then marked the primary down and cut every database session.
 */
export interface PgPrimaryCheck {
  startup: string;
  queryAndTerminate: string;
  readyForQuery: string;
  primaryRow: string;
}

const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

/** A protocol message: type byte, then Int32 length (itself included), then the body. */
const message = (type: string, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from(type, 'latin1'), int32(body.length + 4), body]);

const cstring = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

export function pgPrimaryCheck(user: string, database: string): PgPrimaryCheck {
  const parameters = Buffer.concat([
    ...['user', user, 'database', database, 'application_name', 'haproxy-check'].map(cstring),
    Buffer.from([0]),
  ]);
  // The StartupMessage has no type byte: Int32 length, Int32 protocol 3.0, then name/value pairs.
  const startup = Buffer.concat([int32(parameters.length + 8), int32(196_608), parameters]);
  const query = message('Q', cstring('select pg_is_in_recovery()'));
  const terminate = message('X', Buffer.alloc(0));
  // DataRow: Int16 column count 1, Int32 value length 1, the value.
  const primaryRow = message('D', Buffer.concat([Buffer.from([0, 1]), int32(1), Buffer.from('f', 'latin1')]));
  return {
    startup: startup.toString('hex'),
    queryAndTerminate: Buffer.concat([query, terminate]).toString('hex'),
    readyForQuery: message('Z', Buffer.from('I', 'latin1')).toString('hex'),
    primaryRow: primaryRow.toString('hex'),
  };
}
