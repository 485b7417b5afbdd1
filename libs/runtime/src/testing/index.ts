export * from './fake-clients';
export * from './testing-app.util';
