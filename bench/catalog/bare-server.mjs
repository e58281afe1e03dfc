// The ceiling of bench/catalog: a bare node:http server in a process of its own, sending the bytes
// of argv[2] (a file) with content type argv[3] to every request; plain JavaScript, so nothing
// but Node runs. Prints its port once listening.
import { readFileSync } from 'node:fs';
import http from 'node:http';

const bytes = readFileSync(process.argv[2]);
const headers = { 'content-type': process.argv[3], 'content-length': bytes.length };
const server = http.createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(bytes);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
