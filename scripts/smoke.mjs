// A client's walk through the API against a running server, through the typed client
// (clients/typescript, compiled first: `npm run client:build`): `node scripts/smoke.mjs [base URL]`.
// CI runs it against the compiled build (dist/), which the test suite never loads.
import { createOpplyClient } from '../clients/typescript/dist/client.js';

const baseUrl = process.argv[2] ?? 'http://127.0.0.1:8000';
const client = createOpplyClient({ baseUrl, onSignedOut: () => fail('signed out during the walk') });
const { api } = client;

function fail(message) {
  throw new Error(`smoke: ${message}`);
}
function expectStatus(what, result, status) {
  if (result.response.status !== status) fail(`${what}: expected ${status}, got ${result.response.status} ${JSON.stringify(result.error ?? result.data).slice(0, 300)}`);
  return result.data;
}

const user = `smoke${Date.now()}`;
const password = 'a long smoke-test passphrase';
const account = { username: user, email: `${user}@example.com`, password };
expectStatus('ready', await api.GET('/health/ready'), 200);
expectStatus('register', await api.POST('/api/identity/register/', { body: account }), 201);
const again = await api.POST('/api/identity/register/', { body: account });
expectStatus('register again', again, 409);
if (again.error?.code !== 'conflict') fail(`a taken username answers code ${again.error?.code}, not conflict`);
expectStatus('login', await client.login(user, password), 200);
const page = expectStatus('products', await api.GET('/api/catalog/products/', { params: { query: { limit: 5 } } }), 200);
if (page.results.length === 0) fail('the demo catalog is empty');
const product = page.results[0];
expectStatus('cart', await api.PUT('/api/cart/items/{product_id}/', { params: { path: { product_id: product.id } }, body: { quantity: 1 } }), 200);
const checkout = await client.checkout();
const order = expectStatus('checkout', checkout, 201);
const replay = await client.checkout({ idempotencyKey: checkout.idempotencyKey });
expectStatus('checkout replayed', replay, 201);
if (replay.response.headers.get('idempotent-replayed') !== 'true' || replay.data.id !== order.id) fail('the replayed checkout is not the same order');
const history = expectStatus('orders', await api.GET('/api/orders/orders/'), 200);
if (history.count !== 1 || history.results[0].id !== order.id) fail('the order is not in the history exactly once');
expectStatus('cancel', await api.POST('/api/orders/orders/{id}/cancel/', { params: { path: { id: order.id } } }), 200);
expectStatus('document', await api.GET('/openapi.json'), 200);
expectStatus('logout', await client.logout(), 204);
console.log(`smoke: the client walk passed against ${baseUrl}`);
