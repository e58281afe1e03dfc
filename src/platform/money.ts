/** Money travels as integer cents inside the code and as a two-place decimal string on the wire. */
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
