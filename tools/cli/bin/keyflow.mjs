#!/usr/bin/env node
// The `keyflow` command: `npx keyflow <command> …` from the repository (the `bin` of the root package.json), and
// `npm run kv -- <command> …`. Like `npm run dlq`, it builds the `cli` Nx project (cached: a few seconds when
// nothing changed) and runs the compiled `tools/cli/src/main.ts`.
//
// Why `npx keyflow` runs this file and never asks the registry: `npm exec` (npm 7 and later), given a command and
// no `--package`, first looks for a bin of that name in the package.json of the directory it runs in, and runs the
// project's own bin from there (it links the project into its npx cache; nothing is downloaded). A bin is not linked
// into the project's own `node_modules/.bin`, so without that rule `npx keyflow` would fetch the unrelated `keyflow`
// package; the e2e suite checks it runs this file with the registry unreachable. Elsewhere, `npm link` in the
// repository puts `keyflow` on the PATH.
import { runBuilt } from '../../stack/bin/run-built.mjs';

process.exit(runBuilt('cli', 'tools/cli/src/main.ts', process.argv.slice(2)));
