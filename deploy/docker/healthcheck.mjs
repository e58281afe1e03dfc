// Container health probe for images without curl: GET the liveness endpoint with Node's fetch.
// HEALTHCHECK_URL overrides the target (default http://127.0.0.1:$PORT/health/live).
const port = process.env.PORT || '8000';
const url = process.env.HEALTHCHECK_URL || `http://127.0.0.1:${port}/health/live`;

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
