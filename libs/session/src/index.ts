export * from './session-store.service';
