// Generates kubernetes-1.30.json — JSON Schemas (draft-07) for the Kubernetes objects keyflow's manifests use —
// from the `kubernetes-types` npm package, whose TypeScript declarations are generated from the Kubernetes OpenAPI
// definitions. Used once to vendor the schemas (no network at test time); re-run to move to another release:
//
//   npm pack kubernetes-types@1.30.0 && tar xzf kubernetes-types-1.30.0.tgz
//   node deploy/schemas/kubernetes/generate.mjs package > deploy/schemas/kubernetes/kubernetes-1.30.json
//   npx prettier --write deploy/schemas/kubernetes/kubernetes-1.30.json
//
// What survives the trip through TypeScript: every field name, which fields are required, nesting, arrays and
// maps, enums of literal values, and `number | string` unions (IntOrString). What does not: integer vs number and
// OpenAPI formats (int32, int-or-string). Objects are closed (additionalProperties: false), which is what
// `kubectl apply --validate=strict` enforces.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const ts = require('typescript');

/** The objects keyflow's manifests contain. */
const ROOTS = [
  ['core/v1', 'ConfigMap'],
  ['core/v1', 'Namespace'],
  ['core/v1', 'Secret'],
  ['core/v1', 'Service'],
  ['core/v1', 'ServiceAccount'],
  ['apps/v1', 'Deployment'],
  ['batch/v1', 'Job'],
  ['policy/v1', 'PodDisruptionBudget'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['networking/v1', 'Ingress'],
];

const root = resolve(process.argv[2] ?? 'package');
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.d.ts')) files.push(path);
  }
})(root);

const program = ts.createProgram(files, { noEmit: true });
const checker = program.getTypeChecker();
const moduleOf = (sourceFile) => relative(root, sourceFile.fileName).replace(/\.d\.ts$/, '');
const definitionName = (module, name) => `${module.replace(/\//g, '.')}.${name}`;

/** Declarations by module and name. */
const declarations = new Map();
for (const sourceFile of program.getSourceFiles()) {
  if (!sourceFile.fileName.startsWith(root)) continue;
  for (const statement of sourceFile.statements) {
    if (ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement)) {
      declarations.set(definitionName(moduleOf(sourceFile), statement.name.text), statement);
    }
  }
}

const definitions = {};
const pending = [];

function refTo(declaration) {
  const key = definitionName(moduleOf(declaration.getSourceFile()), declaration.name.text);
  if (!(key in definitions)) {
    definitions[key] = null;
    pending.push([key, declaration]);
  }
  return { $ref: `#/definitions/${key}` };
}

function schemaOfTypeNode(node) {
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword:
      return { type: 'string' };
    case ts.SyntaxKind.NumberKeyword:
      return { type: 'number' };
    case ts.SyntaxKind.BooleanKeyword:
      return { type: 'boolean' };
    case ts.SyntaxKind.AnyKeyword:
    case ts.SyntaxKind.UnknownKeyword:
      return {};
    case ts.SyntaxKind.LiteralType:
      if (ts.isStringLiteral(node.literal)) return { const: node.literal.text };
      break;
    case ts.SyntaxKind.ArrayType:
      return { type: 'array', items: schemaOfTypeNode(node.elementType) };
    case ts.SyntaxKind.UnionType:
      return { anyOf: node.types.map(schemaOfTypeNode) };
    case ts.SyntaxKind.ParenthesizedType:
      return schemaOfTypeNode(node.type);
    case ts.SyntaxKind.TypeLiteral:
      return schemaOfMembers(node.members);
    case ts.SyntaxKind.TypeReference: {
      const name = node.typeName.getText();
      if (name === 'Array' && node.typeArguments?.length === 1) {
        return { type: 'array', items: schemaOfTypeNode(node.typeArguments[0]) };
      }
      let symbol = checker.getSymbolAtLocation(node.typeName);
      if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      const declaration = symbol?.declarations?.[0];
      if (declaration && (ts.isInterfaceDeclaration(declaration) || ts.isTypeAliasDeclaration(declaration))) {
        return refTo(declaration);
      }
      break;
    }
    default:
      break;
  }
  throw new Error(`unsupported type ${ts.SyntaxKind[node.kind]}: ${node.getText()}`);
}

function schemaOfMembers(members) {
  const properties = {};
  const required = [];
  let additional = false;
  for (const member of members) {
    if (ts.isPropertySignature(member)) {
      const name = member.name.getText().replace(/^"|"$/g, '');
      properties[name] = schemaOfTypeNode(member.type);
      if (!member.questionToken) required.push(name);
    } else if (ts.isIndexSignatureDeclaration(member)) {
      additional = schemaOfTypeNode(member.type);
    } else {
      throw new Error(`unsupported member ${member.getText()}`);
    }
  }
  // An interface with no members (RawExtension, FieldsV1, JSON) holds arbitrary JSON.
  if (members.length === 0) return {};
  const schema = { type: 'object', properties };
  if (required.length) schema.required = required;
  schema.additionalProperties = additional;
  if (Object.keys(properties).length === 0) delete schema.properties;
  return schema;
}

for (const [module, name] of ROOTS) {
  const declaration = declarations.get(definitionName(module, name));
  if (!declaration) throw new Error(`no ${name} in ${module}`);
  refTo(declaration);
}
while (pending.length) {
  const [key, declaration] = pending.shift();
  definitions[key] = ts.isInterfaceDeclaration(declaration)
    ? schemaOfMembers(declaration.members)
    : schemaOfTypeNode(declaration.type);
}

const sorted = Object.fromEntries(
  Object.keys(definitions)
    .sort()
    .map((k) => [k, definitions[k]]),
);
process.stdout.write(
  `${JSON.stringify(
    {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: `https://keyflow.invalid/schemas/kubernetes-${version.split('.').slice(0, 2).join('.')}.json`,
      title: `Kubernetes ${version.split('.').slice(0, 2).join('.')} objects used by keyflow`,
      description: `Generated by deploy/schemas/kubernetes/generate.mjs from kubernetes-types@${version}. Do not edit.`,
      roots: Object.fromEntries(ROOTS.map(([m, n]) => [`${m}/${n}`, `#/definitions/${definitionName(m, n)}`])),
      definitions: sorted,
    },
    null,
    1,
  )}\n`,
);
