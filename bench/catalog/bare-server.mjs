// The ceiling of bench/catalog: a bare node:http server in a process of its own, sending the bytes
// of argv[2] (a file) with content type argv[3] (and content coding argv[4], when given: the bytes
// are then already compressed) to every request; plain JavaScript, so nothing but Node runs.
// Prints its port once listening.
import { readFileSync } from 'node:fs';
import http from 'node:http';

const bytes = readFileSync(process.argv[2]);
const headers = { 'content-type': process.argv[3], 'content-length': bytes.length };
if (process.argv[4]) Object.assign(headers, { 'content-encoding': process.argv[4], vary: 'Accept-Encoding' });
const server = http.createServer((_req, res) => {
  res.writeHead(200, headers);
  res.end(bytes);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
