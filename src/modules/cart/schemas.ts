/** Wire shapes of the cart API (snake_case, money as decimal strings) and their presenter. */
import { Type, type Static } from 'typebox';
import { UUID_PATTERN } from '../../platform/ids.ts';
import { formatMoney, MAX_UNITS_PER_LINE, MONEY_PATTERN } from '../../platform/money.ts';

const Uuid = Type.String({ pattern: UUID_PATTERN });
const Money = Type.String({ pattern: MONEY_PATTERN });

export const CartItemParams = Type.Object({ product_id: Uuid });

/** Large enough for any real cart; the configured caps (CART_MAX_UNITS…) answer 409 below it. */
// The cap is a setting (CART_MAX_UNITS_PER_LINE, default 20): the schema's maximum is the most
// any deployment allows, the description the rule a client meets.
export const SetItemBody = Type.Object({
  quantity: Type.Integer({
    minimum: 0,
    maximum: MAX_UNITS_PER_LINE,
    description: 'Units of the product in the cart, 0 removes the line; at most CART_MAX_UNITS_PER_LINE (default 20), more → 409 conflict',
  }),
});

export const CartJson = Type.Object({
  items: Type.Array(
    Type.Object({
      product: Uuid,
      name: Type.String(),
      price: Money,
      quantity: Type.Integer({ minimum: 1 }),
      line_total: Money,
    }),
  ),
  total: Money,
  /** When the cart and its holds lapse unless changed again; null for an empty cart. */
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type CartJson = Static<typeof CartJson>;

export interface CartLine {
  productId: string;
  name: string;
  priceCents: number;
  quantity: number;
}

export function presentCart(lines: CartLine[], expiresAt: number | null): CartJson {
  const items = lines.map((l) => ({
    product: l.productId,
    name: l.name,
    price: formatMoney(l.priceCents),
    quantity: l.quantity,
    line_total: formatMoney(l.priceCents * l.quantity),
  }));
  const total = lines.reduce((sum, l) => sum + l.priceCents * l.quantity, 0);
  return { items, total: formatMoney(total), expires_at: items.length > 0 && expiresAt !== null ? new Date(expiresAt).toISOString() : null };
}
