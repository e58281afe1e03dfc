/**
 * `npm run openapi [-- FILE]`: writes the OpenAPI document (the one /openapi.json serves) to FILE,
 * or to stdout, without starting a server or touching any database.
 */
import { writeFile } from 'node:fs/promises';
import { buildOpenApiDocument } from './openapi-document.ts';

const target = process.argv[2];
const text = `${JSON.stringify(await buildOpenApiDocument(), null, 2)}\n`;
if (target) await writeFile(target, text);
else process.stdout.write(text);
