/**
 * `npm run client:generate`: regenerates the typed client's committed output from the document the
 * server serves (built without listening): clients/typescript/openapi.json and the types
 * openapi-typescript makes of it, clients/typescript/src/schema.ts. CI reruns this and fails when
 * the committed files differ, so the client never lags the routes.
 */
import { writeFile } from 'node:fs/promises';
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';
import { buildOpenApiDocument } from './openapi-document.ts';

const root = new URL('../clients/typescript/', import.meta.url);
const document = await buildOpenApiDocument();
await writeFile(new URL('openapi.json', root), `${JSON.stringify(document, null, 2)}\n`);
const ast = await openapiTS(document as unknown as Parameters<typeof openapiTS>[0], { alphabetize: true });
await writeFile(new URL('src/schema.ts', root), COMMENT_HEADER + astToString(ast));
console.log('client:generate: wrote clients/typescript/openapi.json and src/schema.ts');
