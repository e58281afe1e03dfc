/**
 * The lint refuses an import across module boundaries (eslint.boundaries.js): each snippet is
 * linted as if it were the named file, with the repository's own ESLint configuration.
 */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint();

async function restricted(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('module boundaries', () => {
  it("refuses a module reaching into another module's files", async () => {
    const messages = await restricted('src/modules/orders/place.ts', "import { lockProducts } from '../inventory/stock.ts';\nvoid lockProducts;\n");
    expect(messages).toEqual([expect.stringContaining('only through its service.ts')]);
    // Also from a wing, deeper down.
    expect(await restricted('src/modules/orders/flash-sale/admission.ts', "import { productKeys } from '../../inventory/holds-redis.ts';\nvoid productKeys;\n")).toHaveLength(1);
    expect(await restricted('src/modules/cart/routes.ts', "import { sendPlaced } from '../orders/routes.ts';\nvoid sendPlaced;\n")).toHaveLength(1);
  });

  it("lets a module use another's service.ts and its own files", async () => {
    expect(await restricted('src/modules/orders/place.ts', "import type { InventoryService } from '../inventory/service.ts';\nexport type X = InventoryService;\n")).toEqual([]);
    expect(await restricted('src/modules/orders/flash-sale/admission.ts', "import { STREAM } from './stream.ts';\nimport * as repo from '../repo.ts';\nvoid STREAM; void repo;\n")).toEqual([]);
  });

  it('refuses platform importing a module or the composition root', async () => {
    expect(await restricted('src/platform/http/placed.ts', "import type { OrderJson } from '../../modules/orders/schemas.ts';\nexport type X = OrderJson;\n")).toHaveLength(1);
    expect(await restricted('src/platform/http/docs.ts', "import { createServices } from '../../services.ts';\nvoid createServices;\n")).toHaveLength(1);
  });

  it('lets app.ts register routes, and keeps the other entry points to services', async () => {
    expect(await restricted('src/app.ts', "import { cartRoutes } from './modules/cart/routes.ts';\nvoid cartRoutes;\n")).toEqual([]);
    expect(await restricted('src/jobs.ts', "import { createAsyncWorker } from './modules/orders/flash-sale/worker.ts';\nvoid createAsyncWorker;\n")).toHaveLength(1);
    expect(await restricted('src/services.ts', "import { createInventoryService } from './modules/inventory/service.ts';\nvoid createInventoryService;\n")).toEqual([]);
  });
});
