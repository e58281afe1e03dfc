/** Catalog request and response shapes: snake_case, money as two-place decimal strings. */
import { Type, type Static } from 'typebox';
import { MAX_PRICE, MONEY_PATTERN, PRICE_PATTERN } from '../../platform/money.ts';
import { MAX_OFFSET, Page } from '../../platform/pagination.ts';
import { UUID_PATTERN } from '../../platform/ids.ts';

export const SLUG_PATTERN = '^[a-z0-9]+(-[a-z0-9]+)*$';

const Money = Type.String({ pattern: MONEY_PATTERN, description: 'Decimal with up to two places, e.g. "12.50"' });
// At most MAX_PRICE, so no order or cart total leaves ten integer digits (platform/money.ts).
const Price = Type.String({ pattern: PRICE_PATTERN, description: `Decimal with up to two places, at most ${MAX_PRICE}, e.g. "12.50"` });
const Slug = Type.String({ pattern: SLUG_PATTERN, minLength: 1, maxLength: 100 });
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Description = Type.String({ maxLength: 10_000 });
const Stock = Type.Integer({ minimum: 0, maximum: 1_000_000_000 });

export const Product = Type.Object({
  id: Type.String(),
  name: Type.String(),
  description: Type.String(),
  price: Type.String(),
  quantity: Type.Integer({ description: 'Units a customer can order now: stock minus units held in live carts' }),
  category: Type.Union([Type.String(), Type.Null()]),
});

export const CategoryFacet = Type.Object({ slug: Type.String(), name: Type.String(), count: Type.Integer() });
export const PriceFacet = Type.Object({
  min: Type.String({ description: 'Lower bound, included' }),
  max: Type.String({ description: 'Upper bound, excluded (the last band includes it)' }),
  count: Type.Integer(),
});
export const Facets = Type.Object({
  category: Type.Optional(Type.Array(CategoryFacet, { description: 'Matching products per category, most first' })),
  price: Type.Optional(Type.Array(PriceFacet, { description: 'About five bands with rounded bounds over the matching prices; empty bands left out' })),
});

export const ProductPage = Type.Object({
  ...Page(Product).properties,
  facets: Type.Optional(Type.Object(Facets.properties, { description: 'With `facets=`: counts over the whole search and filters, not just this page' })),
});

export const SuggestQuery = Type.Object({
  q: Type.String({ minLength: 1, maxLength: 100, description: 'What was typed so far; every word matches as in `search`' }),
});
export const Suggestion = Type.Object({ id: Type.String(), name: Type.String() });

/** The staff view of a product's stock: the product plus its shelf stock and the units held in live carts. */
export const Inventory = Type.Object({
  ...Product.properties,
  stock: Type.Integer({ description: 'Units on the shelf (confirmed orders already taken)' }),
  held: Type.Integer({ description: 'Units held in live carts; quantity = max(0, stock - held)' }),
});

export const LowStockQuery = Type.Object({
  max_stock: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000, description: 'Default: the low-stock line (LOW_STOCK_LINE, 10 unless set)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Default 10' })),
});

export const ProductParams = Type.Object({ id: Type.String({ pattern: UUID_PATTERN }) });

export const ProductCreate = Type.Object(
  {
    name: Name,
    description: Type.Optional(Description),
    price: Price,
    quantity: Stock,
    category: Type.Optional(Type.Union([Slug, Type.Null()])),
  },
  { additionalProperties: false },
);

export const ProductPatch = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Description),
    price: Type.Optional(Price),
    quantity: Type.Optional(Stock),
    category: Type.Optional(Type.Union([Slug, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);

export const InventoryChange = Type.Union([
  Type.Object({ delta: Type.Integer({ minimum: -1_000_000_000, maximum: 1_000_000_000 }) }, { additionalProperties: false }),
  Type.Object({ quantity: Stock }, { additionalProperties: false }),
]);

export const ORDERINGS = ['name', '-name', 'price', '-price', 'created_at', '-created_at', 'relevance'] as const;
export type Ordering = (typeof ORDERINGS)[number];

export const ListQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Default 20' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, description: `At most ${MAX_OFFSET}; deeper pages are read with cursor` })),
  cursor: Type.Optional(Type.String({ maxLength: 2000, description: 'Empty starts a keyset walk; then the opaque value from `next`' })),
  category: Type.Optional(Slug),
  min_price: Type.Optional(Money),
  max_price: Type.Optional(Money),
  search: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  in_stock: Type.Optional(Type.Boolean({ description: 'Default true: sold-out products are hidden' })),
  ordering: Type.Optional(Type.Union(ORDERINGS.map((o) => Type.Literal(o)), { description: 'Default: `relevance` with `search` (best first; needs `search`), else `created_at`' })),
  facets: Type.Optional(Type.String({ pattern: '^(category|price)(,(category|price))?$', description: '`category`, `price` or both, comma-separated' })),
});
export type ListQueryType = Static<typeof ListQuery>;

export const Category = Type.Object({ slug: Type.String(), name: Type.String() });
export const CategoryParams = Type.Object({ slug: Slug });
export const CategoryCreate = Type.Object({ slug: Slug, name: Name }, { additionalProperties: false });
export const CategoryPatch = Type.Object(
  { slug: Type.Optional(Slug), name: Type.Optional(Name) },
  { additionalProperties: false, minProperties: 1 },
);

export type ProductJson = Static<typeof Product>;
export type ProductCreateBody = Static<typeof ProductCreate>;
export type ProductPatchBody = Static<typeof ProductPatch>;
export type InventoryJson = Static<typeof Inventory>;
export type InventoryChangeBody = Static<typeof InventoryChange>;
export type CategoryJson = Static<typeof Category>;
export type FacetsJson = Static<typeof Facets>;
export type SuggestionJson = Static<typeof Suggestion>;
