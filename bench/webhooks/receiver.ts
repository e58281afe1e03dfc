/**
 * The bench's webhook receiver: a bare node:http server in a process of its own that answers 204
 * at once and remembers, per request, the event's order id and its arrival time (epoch ms, µs
 * resolution). `GET /_arrivals?from=N` answers what arrived from the N-th request on. Prints its
 * port as one JSON line. No signature check: the receiver's own cost stays out of the figures.
 */
import http from 'node:http';

const arrivals: Array<[string, number]> = [];

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/_arrivals')) {
    const from = Number(new URL(req.url, 'http://x').searchParams.get('from') ?? 0);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ count: arrivals.length, arrivals: arrivals.slice(from) }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const at = performance.timeOrigin + performance.now();
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { data?: { id?: string } };
    arrivals.push([String(body.data?.id), at]);
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
});
