/**
 * Records what would end a Node process — an `error` event nobody listens to (it becomes an uncaught exception),
 * a rejection nobody handles — for a test that proves a failure does not crash its process. `stop()` removes the
 * listeners again.
 */
export function watchProcessErrors(): { errors: unknown[]; stop: () => void } {
  const errors: unknown[] = [];
  const record = (err: unknown) => errors.push(err);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  return {
    errors,
    stop: () => {
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
    },
  };
}
