import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

export function setupSwagger(app: NestFastifyApplication): void {
  const config = new DocumentBuilder()
    .setTitle('keyflow')
    .setDescription(
      [
        'A distributed key-value store. Reads are served from a Redis cluster (falling back to the database);',
        'writes are accepted once a RabbitMQ quorum queue has them and are applied in order per key by workers.',
        '',
        'Every error is an RFC 9457 problem document (`application/problem+json`). Every response carries',
        '`X-Served-By` (the API instance) and `X-Request-Id`.',
        '',
        'Writes need credentials: a session cookie from `POST /v1/auth/login`, or `Authorization: Bearer <token>`',
        '(tokens from `POST /v1/auth/tokens`). Reads need them too unless the topology sets `auth.readsRequireAuth: false`.',
        'Cookie-authenticated writes must come from the service’s own origin (`Origin`/`Referer`), or get 403.',
      ].join('\n'),
    )
    .setVersion('1')
    .setLicense('MIT', 'https://opensource.org/license/mit')
    // Relative: the document is served by every gateway and API, and each of them serves the routes it lists.
    .addServer('/', 'The gateway (or API instance) that served this document')
    .addTag('kv', 'Keys and values')
    .addTag('operations', 'Following an accepted write')
    .addTag('store (reference-compatible)', 'The reference KV store’s routes')
    .addTag('backup', 'Backing up and restoring every key (admins)')
    .addTag('auth', 'Logging in, sessions, tokens and users')
    .addTag('health', 'Liveness, readiness and instance status')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'A token from POST /v1/auth/tokens' })
    .addCookieAuth('keyflow_session')
    .addSecurityRequirements('bearer')
    .addSecurityRequirements('cookie')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/json', yamlDocumentUrl: 'docs/yaml' });
}
