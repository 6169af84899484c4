#!/usr/bin/env node
// The package ships TypeScript sources; tsx (a runtime dependency) loads them on Node 20, which has
// no type stripping of its own.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
