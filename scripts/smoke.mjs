// A client's walk through the API against a running server: `node scripts/smoke.mjs [base URL]`.
// CI runs it against the compiled build (dist/), which the test suite never loads.
const base = process.argv[2] ?? 'http://127.0.0.1:8000';
const json = { 'content-type': 'application/json' };

async function call(method, path, { body, headers = {}, expect }) {
  const res = await fetch(base + path, { method, headers: { ...(body ? json : {}), ...headers }, body: body && JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== expect) throw new Error(`${method} ${path}: expected ${expect}, got ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

const user = `smoke${Date.now()}`;
const password = 'a long smoke-test passphrase';
await call('GET', '/health/ready', { expect: 200 });
await call('POST', '/api/identity/register/', { body: { username: user, email: `${user}@example.com`, password }, expect: 201 });
await call('POST', '/api/identity/register/', { body: { username: user, email: `${user}@example.com`, password }, expect: 409 });
const { access } = await call('POST', '/api/identity/token/', { body: { username: user, password }, expect: 200 });
const auth = { authorization: `Bearer ${access}` };
const page = await call('GET', '/api/catalog/products/?limit=5', { headers: auth, expect: 200 });
if (page.results.length === 0) throw new Error('the demo catalog is empty');
const product = page.results[0];
await call('PUT', `/api/cart/items/${product.id}/`, { body: { quantity: 1 }, headers: auth, expect: 200 });
const order = await call('POST', '/api/cart/checkout/', { headers: { ...auth, 'idempotency-key': `smoke-${user}` }, expect: 201 });
await call('POST', '/api/cart/checkout/', { headers: { ...auth, 'idempotency-key': `smoke-${user}` }, expect: 201 });
const history = await call('GET', '/api/orders/orders/', { headers: auth, expect: 200 });
if (history.count !== 1 || history.results[0].id !== order.id) throw new Error('the order is not in the history exactly once');
await call('POST', `/api/orders/orders/${order.id}/cancel/`, { headers: auth, expect: 200 });
await call('GET', '/openapi.json', { expect: 200 });
console.log(`smoke: the client walk passed against ${base}`);
