/**
 * The mails a customer gets about an order, one per state they care about: received (flash-sale
 * mode only, at acceptance), confirmed (when the order is written: at once in sync mode, after
 * acceptance in flash-sale mode), cancelled (with the reason) and shipped. Lines and totals as the order shows them in the API. Plain text first.
 */
import type { OrderEvent } from './events.ts';
import type { OrderJson } from './schemas.ts';

const REASONS: Record<string, string> = {
  customer: 'you cancelled it',
  staff: 'our team cancelled it',
  out_of_stock: 'the items ran out before we could confirm it',
  unprocessable: 'we could not process it',
};

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function intro(event: OrderEvent): { subject: string; lead: string } | undefined {
  const ref = event.order.id.slice(-8);
  switch (event.type) {
    // The first written state: confirmed, or (flash-sale mode, out of stock) cancelled, mailed below.
    case 'order.created':
      return event.order.status === 'confirmed' ? { subject: `Order ${ref} confirmed`, lead: 'Thank you: your order is confirmed.' } : undefined;
    case 'order.cancelled':
      return { subject: `Order ${ref} cancelled`, lead: `Your order was cancelled: ${REASONS[event.order.cancel_reason ?? ''] ?? 'it was cancelled'}.` };
    case 'order.shipped':
      return { subject: `Order ${ref} shipped`, lead: 'Your order is on its way.' };
    case 'order.confirmed':
      return undefined; // the order.created of the same write already mails the confirmation
  }
}

function lines(order: OrderJson) {
  return order.order_items.map((l) => ({ text: `${l.quantity} × ${l.name} at ${l.price} = ${l.line_total}`, l }));
}

type Compose = (recipient: { username: string; firstName: string }) => { subject: string; text: string; html: string };

/** The mail for this event, or undefined when it mails nobody. */
export function orderMail(event: OrderEvent): Compose | undefined {
  const head = intro(event);
  return head && composed(head, event.order);
}

/** Flash-sale mode, at acceptance (202): the order is received; the confirmed mail follows when it is written. */
export function receivedMail(order: OrderJson): Compose {
  return composed({ subject: `Order ${order.id.slice(-8)} received`, lead: 'Thank you: we have received your order and will confirm it shortly.' }, order);
}

function composed(head: { subject: string; lead: string }, order: OrderJson): Compose {
  return (recipient) => {
    const name = recipient.firstName || recipient.username;
    const text = [`Hello ${name},`, '', head.lead, '', `Order ${order.id}`, ...lines(order).map((l) => `  ${l.text}`), `Total: ${order.total}`].join('\n');
    const rows = order.order_items
      .map((l) => `<tr><td>${escapeHtml(l.name)}</td><td>${l.quantity}</td><td>${l.price}</td><td>${l.line_total}</td></tr>`)
      .join('');
    const html = [
      `<p>Hello ${escapeHtml(name)},</p>`,
      `<p>${escapeHtml(head.lead)}</p>`,
      `<p>Order ${order.id}</p>`,
      `<table><tr><th>Item</th><th>Quantity</th><th>Price</th><th>Total</th></tr>${rows}</table>`,
      `<p>Total: ${order.total}</p>`,
    ].join('\n');
    return { subject: head.subject, text, html };
  };
}
