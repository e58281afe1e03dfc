/**
 * Realistic products generated on the server (INSERT … SELECT generate_series): one round trip per
 * batch whatever N is, so a million rows take seconds, not minutes. Used by the demo catalog and
 * by `npm run seed -- --products N`. Their first stock is inventory's (it owns the column): its
 * `seededStock` names the column and value in the same INSERT, so the postings' insert trigger
 * posts `in_stock` right and no row is written twice.
 */
import { sql, type Db } from '../../platform/db.ts';
import type { SeededStock } from '../inventory/service.ts';
import { textArray } from './search.ts';

export const SEED_CATEGORIES: Array<[slug: string, name: string, nouns: string[]]> = [
  ['coffee', 'Coffee', ['Espresso Beans', 'Filter Coffee', 'Cold Brew', 'Decaf Blend', 'Single Origin']],
  ['tea', 'Tea', ['Green Tea', 'Earl Grey', 'Chamomile', 'Matcha', 'Rooibos']],
  ['bakery', 'Bakery', ['Sourdough Loaf', 'Croissant', 'Bagel', 'Rye Bread', 'Cinnamon Roll']],
  ['dairy', 'Dairy', ['Whole Milk', 'Greek Yogurt', 'Cheddar', 'Butter', 'Oat Drink']],
  ['produce', 'Fresh Produce', ['Apples', 'Avocados', 'Tomatoes', 'Spinach', 'Blueberries']],
  ['pantry', 'Pantry', ['Olive Oil', 'Pasta', 'Basmati Rice', 'Chickpeas', 'Honey']],
  ['snacks', 'Snacks', ['Dark Chocolate', 'Trail Mix', 'Crisps', 'Granola Bar', 'Almonds']],
  ['drinks', 'Drinks', ['Sparkling Water', 'Orange Juice', 'Kombucha', 'Lemonade', 'Ginger Beer']],
];

const ADJECTIVES = ['Organic', 'Fresh', 'Classic', 'Artisan', 'Premium', 'Local', 'Smoked', 'Wild', 'Golden', 'Roasted', 'Spiced', 'Sweet', 'Mild', 'Bold', 'Rustic', 'Family'];
const ORIGINS = ['Colombia', 'Kenya', 'Italy', 'Spain', 'Japan', 'Wales', 'Normandy', 'Sicily', 'Vermont', 'Bavaria', 'Andalusia', 'Crete'];
const SIZES = ['250 g', '500 g', '1 kg', '330 ml', '1 l', '6 pack', '12 pack', '2 kg'];

const BATCH = 200_000;

/** Adds the seed categories (existing slugs kept) and `count` products spread over them. */
export async function seedCatalog(db: Db, count: number, firstStock: SeededStock): Promise<void> {
  for (const [i, [slug, name]] of SEED_CATEGORIES.entries()) {
    // Ids in the v7 shape (time-ordered), built here so PostgreSQL 15 needs no uuidv7().
    await db.execute(sql`insert into catalog.categories (id, slug, name)
      values (${v7Sql(sql`(extract(epoch from clock_timestamp()) * 1000)::bigint`, sql`${i}`)}, ${slug}, ${name})
      on conflict (slug) do nothing`);
  }
  const nouns = SEED_CATEGORIES.flatMap(([, , n]) => n);
  const slugs = SEED_CATEGORIES.map(([slug]) => slug);
  const perCategory = SEED_CATEGORIES[0]![2].length;
  const startMs = Date.now() - count;
  const stock = firstStock(sql`r.g`);
  for (let from = 1; from <= count; from += BATCH) {
    const to = Math.min(count, from + BATCH - 1);
    // Row g: category g % 8, noun from that category, prices with frequent ties; stock: inventory's.
    await db.execute(sql`
      with cats as (select array_agg(id order by array_position(${textArray(slugs)}, slug)) as ids
                    from catalog.categories where slug = any(${textArray(slugs)})),
           rows as (
             select g, g % ${slugs.length} as c, (${startMs}::bigint + g) as ms,
                    (${textArray(ADJECTIVES)})[1 + (g * 7) % ${ADJECTIVES.length}] as adj,
                    (${textArray(ORIGINS)})[1 + (g * 13) % ${ORIGINS.length}] as origin,
                    (${textArray(SIZES)})[1 + (g * 3) % ${SIZES.length}] as size
             from generate_series(${from}::int, ${to}::int) g)
      insert into catalog.products (id, name, description, price_cents, ${stock.column}, category_id, created_at, updated_at)
      select ${v7Sql(sql`r.ms`, sql`r.g`)},
             r.adj || ' ' || (${textArray(nouns)})[1 + r.c * ${perCategory} + (r.g / ${slugs.length}) % ${perCategory}] || ' ' || r.size,
             r.adj || ' ' || lower((${textArray(nouns)})[1 + r.c * ${perCategory} + (r.g / ${slugs.length}) % ${perCategory}]) ||
               ' from ' || r.origin || '. Batch ' || r.g || ', packed ' || r.size || '.',
             99 + ((r.g::bigint * 7919) % 400) * 25,
             ${stock.value},
             cats.ids[1 + r.c],
             to_timestamp(r.ms / 1000.0), to_timestamp(r.ms / 1000.0)
      from rows r cross join cats`);
  }
}

/** A UUID with the v7 layout: 48-bit millisecond time, version 7, variant 10, hashed tail. */
function v7Sql(ms: ReturnType<typeof sql>, salt: ReturnType<typeof sql>) {
  return sql`(overlay(overlay(overlay(md5(random()::text || ${salt}::text)
      placing lpad(to_hex(${ms}), 12, '0') from 1 for 12) placing '7' from 13 for 1) placing '8' from 17 for 1))::uuid`;
}
