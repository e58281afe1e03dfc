/**
 * The catalog: products, categories and their cached pages. Reads go through the cache and the
 * read path (a replica that has replayed the last catalog write); writes go to the primary, move
 * the catalog version before answering, and answer from the primary (read-your-writes).
 */
import type { Db } from '../../platform/db.ts';
import { briefly } from '../../platform/dependencies.ts';
import { AppError, findPgError, isUniqueViolation, notFound } from '../../platform/errors.ts';
import { newId } from '../../platform/ids.ts';
import { parseMoney } from '../../platform/money.ts';
import type { Platform } from '../../platform/platform.ts';
import { createCatalogCache } from './cache.ts';
import { createExpander } from './expansion.ts';
import { listProducts, type ListRequest } from './list.ts';
import { presentInventory, presentProduct, productEntry, renderEntry, type Rendered } from './present.ts';
import * as repo from './repo.ts';
import type { CategoryJson, InventoryChangeBody, InventoryJson, ProductCreateBody, ProductJson, ProductPatchBody } from './schemas.ts';
import type { InventoryService, StaffStockResult } from '../inventory/service.ts';
import { seedCatalog } from './seed.ts';
import { suggest } from './suggest.ts';

export interface CatalogDeps {
  platform: Platform;
  /** Units: held units for quantities on pages, and every write of `stock` (staff changes). */
  inventory: Pick<InventoryService, 'heldUnits' | 'setStock' | 'changeStock' | 'productCommitted' | 'lockProducts' | 'productChanged' | 'lowStockLine' | 'seededStock'>;
}

const DEMO_PRODUCTS = 300;

export function createCatalogService(deps: CatalogDeps) {
  const { db, logger } = deps.platform;
  const cache = createCatalogCache(deps.platform);
  const expand = createExpander(cache);
  const { inventory } = deps;
  const heldUnits = inventory.heldUnits;
  const heldOf = async (id: string): Promise<number> => (await heldUnits([id])).get(id) ?? 0;

  /**
   * Runs a staff write between the two version moves (see cache.ts). A write of one product then
   * hands inventory the committed row before the version moves (write-through): its mirror and the
   * facts an admission needs are in Redis before anyone can read the change as done.
   */
  async function write<T>(fn: () => Promise<T>, productId?: string): Promise<T> {
    try {
      await cache.beforeWrite();
    } catch (error) {
      throw new AppError('unavailable', 'The catalog cache cannot be reached; the change was not made', { dependency: 'redis', cause: error });
    }
    const result = await fn();
    if (productId) {
      const row = await repo.findProduct(db.primary, productId);
      if (row) await inventory.productCommitted({ id: row.id, name: row.name, priceCents: row.priceCents, stock: row.stock, version: Number(row.version), archived: row.archived });
    }
    await bump(true);
    return result;
  }

  async function bump(content: boolean) {
    try {
      await cache.bump({ content });
    } catch (error) {
      // The change is committed; pages cached from before it expire with their TTL. Redis being
      // down is logged once by the monitor; this line is per change, so it carries no stack.
      deps.platform.dependencies.failed('redis', error);
      logger.warn(briefly(error), 'catalog version could not be moved after a change; cached pages expire with their TTL');
    }
  }

  async function categoryId(slug: string | null | undefined): Promise<string | null | undefined> {
    if (slug === undefined || slug === null) return slug;
    const category = await repo.findCategoryBySlug(db.primary, slug);
    if (!category) throw new AppError('validation_failed', `Unknown category "${slug}"`, { errors: [{ field: 'category', message: 'no such category' }] });
    return category.id;
  }

  /** The product as the primary has it now. */
  async function answer(id: string): Promise<ProductJson> {
    const row = await repo.findProduct(db.primary, id);
    if (!row || row.archived) throw notFound('Product');
    return presentProduct(row, await heldOf(id));
  }

  /** On the primary: staff read their own stock change at once. */
  async function inventoryView(id: string): Promise<InventoryJson> {
    const row = await repo.findProduct(db.primary, id);
    if (!row || row.archived) throw notFound('Product');
    return presentInventory(row, await heldOf(id));
  }

  /**
   * A staff change of one existing product in one transaction with the events it causes
   * (`product.updated`, `inventory.low_stock`): the row is locked and read before and read again
   * after, so the comparison is exact however orders race it. (A stock change does the same inside
   * inventory.changeStock.)
   */
  function changeProduct<T>(id: string, change: (tx: Db) => Promise<T>): Promise<T> {
    return db.primary.transaction(async (tx) => {
      const before = (await inventory.lockProducts(tx, [id])).get(id);
      const result = await change(tx);
      const after = before && (await inventory.lockProducts(tx, [id])).get(id);
      if (before && after) await inventory.productChanged(tx, [{ before, after }]);
      return result;
    });
  }

  /** Why a staff stock change was refused (an unknown product, stock below zero or below the units held), if it was. */
  function refusal(result: StaffStockResult<unknown>): AppError | undefined {
    if (result.outcome === 'missing') return notFound('Product');
    if (result.outcome === 'below_held') {
      return new AppError('conflict', result.held > 0 ? `Stock cannot go below the ${result.held} units held in carts` : 'Stock cannot go below zero');
    }
    return undefined;
  }

  async function update(id: string, body: ProductPatchBody): Promise<ProductJson> {
    const values: Partial<repo.ProductValues> = {
      name: body.name,
      description: body.description,
      priceCents: body.price === undefined ? undefined : parseMoney(body.price),
    };
    const category = await categoryId(body.category);
    if (category !== undefined) values.categoryId = category;
    const quantity = body.quantity;
    // A new stock and the other fields in one transaction: a stock refused (below held) changes nothing.
    const refused = await write(
      () =>
        withFkCheck(async () => {
          if (quantity !== undefined) return refusal(await inventory.changeStock(id, { quantity }, (tx) => repo.updateProduct(tx, id, values)));
          return (await changeProduct(id, (tx) => repo.updateProduct(tx, id, values))) === 'missing' ? notFound('Product') : undefined;
        }),
      id,
    );
    if (refused) throw refused;
    return answer(id);
  }

  return {
    /** The public base URL of page links, when configured. */
    publicUrl: deps.platform.config.http.publicUrl,

    listProducts: (req: ListRequest): Promise<Rendered> => listProducts(cache, expand, heldUnits, req),
    suggest: (typed: string): Promise<Rendered> => suggest(cache, expand, typed),

    async getProduct(id: string): Promise<Rendered> {
      const build = async () => {
        const row = await cache.read((r) => repo.findProduct(r, id));
        if (!row || row.archived) throw notFound('Product');
        return productEntry(row);
      };
      const { entry, held } = await cache.fetch(`product:${id}`, build, heldUnits);
      return renderEntry(entry, held, false);
    },

    async createProduct(body: ProductCreateBody): Promise<ProductJson> {
      const id = newId();
      const category = (await categoryId(body.category)) ?? null;
      // The row and its stock in one transaction; inventory writes the stock.
      await write(() =>
        withFkCheck(() =>
          db.primary.transaction(async (tx) => {
            await repo.insertProduct(tx, id, { name: body.name, description: body.description ?? '', priceCents: parseMoney(body.price)!, categoryId: category });
            await inventory.setStock(tx, id, body.quantity);
          }),
        ),
        id,
      );
      return answer(id);
    },

    /** PUT: every field; the ones left out take their defaults. */
    replaceProduct: (id: string, body: ProductCreateBody) =>
      update(id, { ...body, description: body.description ?? '', category: body.category ?? null }),

    patchProduct: update,

    async archiveProduct(id: string): Promise<void> {
      const archived = await write(() => changeProduct(id, (tx) => repo.archiveProduct(tx, id)), id);
      if (!archived) throw notFound('Product');
    },

    /**
     * `{delta}` restocks or writes off, `{quantity}` sets; never below zero nor below held units.
     * Answers the inventory view: the product plus `stock` and `held`.
     */
    async changeInventory(id: string, body: InventoryChangeBody): Promise<InventoryJson> {
      const refused = refusal(await write(() => inventory.changeStock(id, body), id));
      if (refused) throw refused;
      return inventoryView(id);
    },

    inventory: inventoryView,

    /** Live products at or below `maxStock` (the low-stock line, LOW_STOCK_LINE, by default), least first, each with its held units. */
    async lowStock(maxStock: number = inventory.lowStockLine, limit = 10): Promise<InventoryJson[]> {
      const rows = await db.read((r) => repo.listLowStock(r, maxStock, limit));
      const held = rows.length > 0 ? await heldUnits(rows.map((r) => r.id)) : new Map<string, number>();
      return rows.map((row) => presentInventory(row, held.get(row.id) ?? 0));
    },

    async listCategories(): Promise<CategoryJson[]> {
      const rows = await cache.read((r) => repo.listCategories(r));
      return rows.map(({ slug, name }) => ({ slug, name }));
    },

    async createCategory(body: { slug: string; name: string }): Promise<CategoryJson> {
      try {
        await write(() => repo.insertCategory(db.primary, newId(), body.slug, body.name));
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('conflict', `Category "${body.slug}" already exists`);
        throw error;
      }
      return { slug: body.slug, name: body.name };
    },

    async updateCategory(slug: string, body: { slug?: string | undefined; name?: string | undefined }): Promise<CategoryJson> {
      let row: repo.CategoryRow | undefined;
      try {
        row = await write(() => repo.updateCategory(db.primary, slug, body));
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError('conflict', `Category "${body.slug}" already exists`);
        throw error;
      }
      if (!row) throw notFound('Category');
      return { slug: row.slug, name: row.name };
    },

    /** Deletes a category; its products stay, without a category. */
    async deleteCategory(slug: string): Promise<void> {
      if (!(await write(() => repo.deleteCategory(db.primary, slug)))) throw notFound('Category');
    },

    /**
     * For other modules after they change stock (orders taking or returning units): moves the
     * catalog version so no cached page shows the old quantity. Never throws.
     */
    bumpVersion: () => bump(false),

    /** Loads the demo catalog into an empty database (the embedded default). */
    async seedDemoIfEmpty(): Promise<boolean> {
      if ((await repo.countAllProducts(db.primary)) > 0) return false;
      await write(() => seedCatalog(db.primary, DEMO_PRODUCTS, inventory.seededStock));
      logger.info({ products: DEMO_PRODUCTS }, 'demo catalog loaded');
      return true;
    },
  };
}

/** A category deleted between its lookup and the write: the same answer as an unknown one. */
async function withFkCheck<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (findPgError(error)?.code === '23503') {
      throw new AppError('validation_failed', 'Unknown category', { errors: [{ field: 'category', message: 'no such category' }] });
    }
    throw error;
  }
}

export type CatalogService = ReturnType<typeof createCatalogService>;
