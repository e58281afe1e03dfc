/**
 * Money travels as integer cents inside the code and as a two-place decimal string on the wire.
 *
 * Every amount on the wire has at most 10 integer digits (API.md). What keeps totals there, and
 * every sum of cents exact in a JavaScript number (below 2^53 ≈ 9.0e15), is two caps:
 * a product's price is at most MAX_PRICE (9,999,999 cents), and an order or a cart has at most
 * MAX_UNITS_PER_ORDER units (100 lines of at most 1,000 units: the ceiling of the per-line caps,
 * CART_MAX_UNITS_PER_LINE and CART_MAX_UNITS). So a total is at most 9,999,999 × 100,000 =
 * 999,999,900,000 cents = 9,999,999,000.00: ten integer digits, four orders of magnitude below
 * 2^53. Requests that would pass either cap are refused (400) at the edge.
 */
export const MAX_PRICE_CENTS = 9_999_999;
export const MAX_PRICE = '99999.99';
/** A product price: at most five integer digits (MAX_PRICE). */
export const PRICE_PATTERN = '^(0|[1-9][0-9]{0,4})(\\.[0-9]{1,2})?$';
export const MAX_UNITS_PER_LINE = 1000;
export const MAX_LINES_PER_ORDER = 100;
export const MAX_UNITS_PER_ORDER = MAX_UNITS_PER_LINE * MAX_LINES_PER_ORDER;

const DECIMAL = /^(0|[1-9]\d{0,9})(\.\d{1,2})?$/;

export const MONEY_PATTERN = '^(0|[1-9][0-9]{0,9})(\\.[0-9]{1,2})?$';

export function parseMoney(value: string): number | undefined {
  if (!DECIMAL.test(value)) return undefined;
  const [whole, fraction = ''] = value.split('.');
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
}

export function formatMoney(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100);
  const fraction = String(abs % 100).padStart(2, '0');
  return `${sign}${whole}.${fraction}`;
}
