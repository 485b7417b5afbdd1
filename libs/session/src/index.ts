export * from './login-throttle.service';
export * from './session-store.service';
export * from './token-cache.service';
